import COpenBLAS

/// 2-D convolution over NCHW batches by im2col + GEMM, parallel over the batch.
///
/// Each core takes a contiguous block of images; inside it, a few images at a time are
/// unfolded into a scratch matrix that stays in cache and multiplied by the weights with a
/// single-threaded sgemm. Nothing of size batch × unfolded input is ever kept: the backward
/// pass unfolds again, which costs less than the memory traffic of storing it.
public struct Conv2DGeometry: Sendable, Hashable {
    public let batch, inChannels, height, width: Int
    public let outChannels, kernelH, kernelW, stride, padding: Int
    public var outHeight: Int { (height + 2 * padding - kernelH) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernelW) / stride + 1 }
    public var outPlane: Int { outHeight * outWidth }
    /// Rows of the unfolded input: Cin·kh·kw.
    public var patch: Int { inChannels * kernelH * kernelW }
    /// 1×1, stride 1, no padding: the input already is its own unfolding.
    var isPointwise: Bool { kernelH == 1 && kernelW == 1 && stride == 1 && padding == 0 }

    /// Images unfolded together so the GEMM has enough columns to run efficiently.
    var groupSize: Int { Swift.max(1, Swift.min(batch, (1024 + outPlane - 1) / outPlane)) }

    /// Unfolds images [n0, n0+g) into cols [patch, g·outPlane].
    func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, first n0: Int, count g: Int) {
        let oh = outHeight, ow = outWidth, plane = outPlane, ld = g * plane
        let inPlane = height * width
        for c in 0..<inChannels {
            for ki in 0..<kernelH {
                for kj in 0..<kernelW {
                    let row = (c * kernelH + ki) * kernelW + kj
                    // Valid output columns: 0 ≤ ox·s − p + kj < W.
                    let oxLo = Swift.max(0, (padding - kj + stride - 1) / stride)
                    let oxHi = Swift.min(ow, (width + padding - kj + stride - 1) / stride)
                    for j in 0..<g {
                        let src = x + ((n0 + j) * inChannels + c) * inPlane
                        let dstBase = cols + row * ld + j * plane
                        for oy in 0..<oh {
                            let dst = dstBase + oy * ow
                            let iy = oy * stride - padding + ki
                            if iy < 0 || iy >= height || oxLo >= oxHi {
                                dst.update(repeating: 0, count: ow)
                                continue
                            }
                            if oxLo > 0 { dst.update(repeating: 0, count: oxLo) }
                            if oxHi < ow { (dst + oxHi).update(repeating: 0, count: ow - oxHi) }
                            let srow = src + iy * width - padding + kj
                            if stride == 1 {
                                (dst + oxLo).update(from: srow + oxLo, count: oxHi - oxLo)
                            } else {
                                for ox in oxLo..<oxHi { dst[ox] = srow[ox * stride] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Folds cols [patch, g·outPlane] back, accumulating into images [n0, n0+g) of dx.
    func col2im(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, first n0: Int, count g: Int) {
        let oh = outHeight, ow = outWidth, plane = outPlane, ld = g * plane
        let inPlane = height * width
        for c in 0..<inChannels {
            for ki in 0..<kernelH {
                for kj in 0..<kernelW {
                    let row = (c * kernelH + ki) * kernelW + kj
                    let oxLo = Swift.max(0, (padding - kj + stride - 1) / stride)
                    let oxHi = Swift.min(ow, (width + padding - kj + stride - 1) / stride)
                    if oxLo >= oxHi { continue }
                    for j in 0..<g {
                        let dst = dx + ((n0 + j) * inChannels + c) * inPlane
                        let srcBase = cols + row * ld + j * plane
                        for oy in 0..<oh {
                            let iy = oy * stride - padding + ki
                            if iy < 0 || iy >= height { continue }
                            let s = srcBase + oy * ow
                            let drow = dst + iy * width - padding + kj
                            if stride == 1 {
                                for ox in oxLo..<oxHi { drow[ox] += s[ox] }
                            } else {
                                for ox in oxLo..<oxHi { drow[ox * stride] += s[ox] }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// Convolution of x [N, Cin, H, W] with weight [Cout, Cin, kh, kw] and optional bias [Cout]
    /// (PyTorch's `conv2d` with square stride and zero padding).
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(x.rank == 4, "conv2d input must be [N, C, H, W], got \(x.shape)")
        precondition(weight.rank == 4, "conv2d weight must be [Cout, Cin, kh, kw], got \(weight.shape)")
        precondition(x.shape[1] == weight.shape[1],
                     "conv2d: input has \(x.shape[1]) channels, weight \(weight.shape) expects \(weight.shape[1])")
        precondition(stride >= 1 && padding >= 0, "conv2d: stride must be ≥ 1 and padding ≥ 0")
        let geo = Conv2DGeometry(batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
                                 outChannels: weight.shape[0], kernelH: weight.shape[2], kernelW: weight.shape[3],
                                 stride: stride, padding: padding)
        precondition(geo.outHeight > 0 && geo.outWidth > 0,
                     "conv2d: kernel \(weight.shape[2])×\(weight.shape[3]) larger than padded input \(x.shape)")
        if let bias { precondition(bias.shape == [geo.outChannels], "conv2d bias shape \(bias.shape), expected [\(geo.outChannels)]") }

        if convolutionBackend == .automatic, let dnn = OneDNN.shared, geo.outChannels % dnn.block == 0 {
            return oneDNNConv2d(dnn, geo, x, weight: weight, bias: bias)
        }
        let x = x.plain()
        let out = Tensor(uninitialized: [geo.batch, geo.outChannels, geo.outHeight, geo.outWidth])
        convForward(geo, x: x.data, w: weight.data, bias: bias?.data, out: out.data)
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        guard needsGraph(inputs) else { return out }
        return out.record(inputs) { g in
            let gx = x.requiresGrad ? Tensor.zeros(x.shape) : nil
            let gw = weight.requiresGrad ? Tensor.zeros(weight.shape) : nil
            convBackward(geo, x: x.data, w: weight.data, gOut: g.data, gx: gx?.data, gw: gw?.data)
            var result: [Tensor?] = [gx, gw]
            if let bias { result.append(bias.requiresGrad ? biasGradient(g, geo) : nil) }
            return result
        }
    }

    /// The bias gradient of a convolution: the plain output gradient summed over batch and plane.
    static func biasGradient(_ g: Tensor, _ geo: Conv2DGeometry) -> Tensor {
        let t = Tensor.zeros([geo.outChannels])
        let plane = geo.outPlane
        for n in 0..<geo.batch {
            for c in 0..<geo.outChannels {
                let p = g.data + (n * geo.outChannels + c) * plane
                var s: Float = 0
                for i in 0..<plane { s += p[i] }
                t.data[c] += s
            }
        }
        return t
    }

    /// Which convolution kernels run: oneDNN where it applies (the default), or always the
    /// portable im2col + OpenBLAS path (tests compare the two).
    public enum ConvolutionBackend: Sendable { case automatic, im2col }
    nonisolated(unsafe) public static var convolutionBackend: ConvolutionBackend = .automatic

    /// Convolution through oneDNN; the output is channel-blocked.
    static func oneDNNConv2d(_ dnn: OneDNN, _ geo: Conv2DGeometry, _ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let b = dnn.block
        var input = x
        if geo.inChannels % b == 0 {
            input = x.channelBlocked(b)
        } else if x.layout != .plain {
            input = x.plain()
        }
        let sourceBlocked = input.layout != .plain
        let inputs = bias.map { [input, weight, $0] } ?? [input, weight]
        let recording = needsGraph(inputs)
        let out = Tensor(uninitialized: [geo.batch, geo.outChannels, geo.outHeight, geo.outWidth])
        out.layout = .channelBlocked(b)
        dnn.forward(geo, training: recording, sourceBlocked: sourceBlocked, x: input.data, w: weight.data, bias: bias?.data, out: out.data)
        guard recording else { return out }
        return out.record(inputs) { g in
            // Where oneDNN has only its reference kernel (single-channel NCHW input on AVX2), the
            // gradient takes im2col + GEMM instead, on the output gradient in NCHW.
            let wantsParameterGradients = weight.requiresGrad || (bias?.requiresGrad ?? false)
            let portableInput = input.requiresGrad && !sourceBlocked
                && dnn.backwardDataIsReference(geo, sourceBlocked: false, hasBias: bias != nil)
            let portableWeights = wantsParameterGradients && !sourceBlocked
                && dnn.backwardWeightsIsReference(geo, sourceBlocked: false, hasBias: bias != nil)
            var gx: Tensor? = nil, gw: Tensor? = nil, gb: Tensor? = nil
            if portableInput || portableWeights {
                let plainGradient = g.plain()
                let tx = portableInput ? Tensor.zeros(input.shape) : nil, tw = portableWeights ? Tensor.zeros(weight.shape) : nil
                withExtendedLifetime(plainGradient) {
                    convBackward(geo, x: input.data, w: weight.data, gOut: plainGradient.data, gx: tx?.data, gw: tw?.data)
                }
                gx = tx
                if portableWeights {
                    gw = weight.requiresGrad ? tw : nil
                    if let bias, bias.requiresGrad { gb = biasGradient(plainGradient, geo) }
                }
            }
            if input.requiresGrad && !portableInput {
                let t = Tensor(uninitialized: input.shape)
                t.layout = input.layout
                dnn.backwardData(geo, sourceBlocked: sourceBlocked, hasBias: bias != nil, w: weight.data, gOut: g.data, gx: t.data)
                gx = t
            }
            if wantsParameterGradients && !portableWeights {
                let tw = Tensor(uninitialized: weight.shape)
                let tb = bias.map { Tensor(uninitialized: $0.shape) }
                dnn.backwardWeights(geo, sourceBlocked: sourceBlocked, x: input.data, gOut: g.data, gw: tw.data, gb: tb?.data)
                gw = weight.requiresGrad ? tw : nil
                gb = (bias?.requiresGrad ?? false) ? tb : nil
            }
            return bias == nil ? [gx, gw] : [gx, gw, gb]
        }
    }

    static func convForward(_ geo: Conv2DGeometry, x: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>,
                            bias: UnsafeMutablePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        BLAS.configure()
        let px = SendablePointer(x), pw = SendablePointer(w), po = SendablePointer(out)
        let pb = bias.map { SendablePointer($0) }
        let cout = geo.outChannels, plane = geo.outPlane, k = geo.patch, inImage = geo.inChannels * geo.height * geo.width
        let group = geo.groupSize
        Parallel.chunks(geo.batch) { _, images in
            let x = px.pointer, w = pw.pointer, out = po.pointer
            let cols = geo.isPointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * group * plane)
            let tmp = group > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: cout * group * plane) : nil
            defer { cols?.deallocate(); tmp?.deallocate() }
            var n0 = images.lowerBound
            while n0 < images.upperBound {
                let g = Swift.min(group, images.upperBound - n0)
                let source: UnsafeMutablePointer<Float>
                if let cols { geo.im2col(x, cols, first: n0, count: g); source = cols } else { source = x + n0 * inImage }
                if g == 1 || geo.isPointwise {
                    // One image at a time straight into the output (pointwise: per image).
                    for j in 0..<g {
                        let dst = out + (n0 + j) * cout * plane
                        var beta: Float = 0
                        if let b = pb?.pointer {
                            for c in 0..<cout { (dst + c * plane).update(repeating: b[c], count: plane) }
                            beta = 1
                        }
                        let src = geo.isPointwise ? source + j * inImage : source
                        BLAS.gemm(m: cout, n: plane, k: k, a: w, lda: k, b: src, ldb: geo.isPointwise ? plane : g * plane,
                                  beta: beta, c: dst, ldc: plane)
                    }
                } else {
                    let t = tmp!
                    BLAS.gemm(m: cout, n: g * plane, k: k, a: w, lda: k, b: source, ldb: g * plane, c: t, ldc: g * plane)
                    for j in 0..<g {
                        for c in 0..<cout {
                            let dst = out + ((n0 + j) * cout + c) * plane, src = t + c * g * plane + j * plane
                            if let b = pb?.pointer {
                                let bc = b[c]
                                for i in 0..<plane { dst[i] = src[i] + bc }
                            } else {
                                dst.update(from: src, count: plane)
                            }
                        }
                    }
                }
                n0 += g
            }
        }
    }

    static func convBackward(_ geo: Conv2DGeometry, x: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>,
                             gOut: UnsafeMutablePointer<Float>, gx: UnsafeMutablePointer<Float>?, gw: UnsafeMutablePointer<Float>?) {
        BLAS.configure()
        let cout = geo.outChannels, plane = geo.outPlane, k = geo.patch, inImage = geo.inChannels * geo.height * geo.width
        let group = geo.groupSize
        let chunks = Parallel.chunkCount(geo.batch)
        // Per-chunk weight-gradient accumulators, summed in a fixed order afterwards.
        let partials = gw == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: chunks * cout * k)
        partials?.initialize(repeating: 0, count: chunks * cout * k)
        defer { partials?.deallocate() }
        let px = SendablePointer(x), pw = SendablePointer(w), pg = SendablePointer(gOut)
        let pgx = gx.map { SendablePointer($0) }, pp = partials.map { SendablePointer($0) }
        Parallel.chunks(geo.batch) { chunk, images in
            let x = px.pointer, w = pw.pointer, gOut = pg.pointer
            let cols = UnsafeMutablePointer<Float>.allocate(capacity: k * group * plane)
            let gathered = group > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: cout * group * plane) : nil
            defer { cols.deallocate(); gathered?.deallocate() }
            var n0 = images.lowerBound
            while n0 < images.upperBound {
                let g = Swift.min(group, images.upperBound - n0)
                // gOut for these images as one [cout, g·plane] matrix.
                let gm: UnsafeMutablePointer<Float>
                if g == 1 {
                    gm = gOut + n0 * cout * plane
                } else {
                    gm = gathered!
                    for j in 0..<g {
                        for c in 0..<cout {
                            (gm + c * g * plane + j * plane).update(from: gOut + ((n0 + j) * cout + c) * plane, count: plane)
                        }
                    }
                }
                if let acc = pp?.pointer {
                    let unfolded: UnsafeMutablePointer<Float>
                    if geo.isPointwise && g == 1 { unfolded = x + n0 * inImage } else {
                        if geo.isPointwise {
                            for j in 0..<g {
                                for c in 0..<geo.inChannels {
                                    (cols + c * g * plane + j * plane).update(from: x + (n0 + j) * inImage + c * plane, count: plane)
                                }
                            }
                        } else {
                            geo.im2col(x, cols, first: n0, count: g)
                        }
                        unfolded = cols
                    }
                    // dW += gOut · colsᵀ
                    BLAS.gemm(transB: true, m: cout, n: k, k: g * plane, a: gm, lda: g * plane, b: unfolded, ldb: g * plane,
                              beta: 1, c: acc + chunk * cout * k, ldc: k)
                }
                if let gxp = pgx?.pointer {
                    // dcols = Wᵀ · gOut, then fold back into dx.
                    BLAS.gemm(transA: true, m: k, n: g * plane, k: cout, a: w, lda: k, b: gm, ldb: g * plane,
                              c: cols, ldc: g * plane)
                    if geo.isPointwise {
                        for j in 0..<g {
                            for c in 0..<geo.inChannels {
                                let d = gxp + (n0 + j) * inImage + c * plane, s = cols + c * g * plane + j * plane
                                for i in 0..<plane { d[i] += s[i] }
                            }
                        }
                    } else {
                        geo.col2im(cols, gxp, first: n0, count: g)
                    }
                }
                n0 += g
            }
        }
        if let gw, let partials {
            gw.update(from: partials, count: cout * k)
            for c in 1..<Swift.max(chunks, 1) {
                let p = partials + c * cout * k
                for i in 0..<(cout * k) { gw[i] += p[i] }
            }
        }
    }
}
