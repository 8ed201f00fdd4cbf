/// Batch norm, max pooling and global average pooling on channel-blocked activations
/// ([N][C/b][H][W][b]), so that convolution outputs flow on without reorders.
extension Tensor {
    /// Batch norm on a channel-blocked input; same contract as `batchNorm`, followed by a ReLU
    /// when `relu` is set (fused: the ReLU runs in the normalising pass, its mask in the backward).
    ///
    /// Work is split over images (statistics as per-chunk partial sums added in chunk order, so
    /// results depend only on the thread count) rather than over channel groups, which left one
    /// core idle on 16-channel layers. Inner loops take a whole channel block as one SIMD vector.
    static func blockedBatchNorm(_ x: Tensor, block b: Int, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
                                 training: Bool, momentum: Float, eps: Float, relu: Bool = false) -> Tensor {
        guard b % 4 == 0 else {
            // Odd blocks never come from oneDNN; run them through the plain kernels.
            let y = batchNorm(x.plain(), weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                              training: training, momentum: momentum, eps: eps)
            return (relu ? y.relu() : y).channelBlocked(b)
        }
        let (n, c, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let groups = c / b, m = n * plane
        precondition(!training || m > 1, "batchNorm in training needs more than one value per channel, input \(x.shape)")
        // mean, 1/σ, then the affine map y = x·scale + shift, per channel.
        let stats = Tensor(uninitialized: [4, c])
        let mean = stats.data, invStd = stats.data + c, scale = stats.data + 2 * c, shift = stats.data + 3 * c
        if training {
            let sums = BlockedBN.channelSums(x.data, nil, nil, mu: nil, n: n, groups: groups, plane: plane, block: b)
            for ch in 0..<c {
                let meanD = sums[ch] / Double(m)
                let varD = Swift.max(sums[c + ch] / Double(m) - meanD * meanD, 0)
                mean[ch] = Float(meanD)
                invStd[ch] = 1 / (Float(varD) + eps).squareRoot()
                runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean[ch]
                runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * Float(varD * Double(m) / Double(m - 1))
            }
        } else {
            for ch in 0..<c {
                mean[ch] = runningMean.data[ch]
                invStd[ch] = 1 / (runningVar.data[ch] + eps).squareRoot()
            }
        }
        for ch in 0..<c {
            scale[ch] = weight.data[ch] * invStd[ch]
            shift[ch] = bias.data[ch] - mean[ch] * scale[ch]
        }
        let out = Tensor(uninitialized: x.shape)
        out.layout = x.layout
        BlockedBN.affine(x.data, out.data, scale: scale, shift: shift, n: n, groups: groups, plane: plane, block: b, relu: relu)
        guard needsGraph(x, weight, bias) else { return out }
        return out.record([x, weight, bias]) { [unowned out] g in
            let g = g.layout == x.layout ? g : g.converted(to: x.layout)
            let mean = stats.data, invStd = stats.data + c
            // Σg and Σg·(x − μ) per channel, with g masked by the ReLU's output when fused.
            let sums = BlockedBN.channelSums(g.data, x.data, relu ? out.data : nil, mu: mean, n: n, groups: groups, plane: plane, block: b)
            let gw = Tensor(uninitialized: [c]), gb = Tensor(uninitialized: [c])
            // dx = k·g − shiftTerm − (x − μ)·slope, per channel (the last two vanish in eval mode).
            let coefficients = Tensor(uninitialized: [3, c])
            let k = coefficients.data, shiftTerm = coefficients.data + c, slope = coefficients.data + 2 * c
            for ch in 0..<c {
                let istd = invStd[ch], w = weight.data[ch]
                let dBeta = Float(sums[ch]), dGamma = Float(sums[c + ch]) * istd
                gb.data[ch] = dBeta
                gw.data[ch] = dGamma
                k[ch] = w * istd
                // dx = γσ⁻¹/m · (m·g − Σg − (x − μ)·σ⁻¹·Σ(g·x̂))
                shiftTerm[ch] = training ? w * istd * dBeta / Float(m) : 0
                slope[ch] = training ? w * istd * dGamma * istd / Float(m) : 0
            }
            var gx: Tensor? = nil
            if x.requiresGrad {
                let t = Tensor(uninitialized: x.shape)
                t.layout = x.layout
                BlockedBN.inputGradient(g.data, x.data, relu ? out.data : nil, t.data, mu: mean, k: k, shiftTerm: shiftTerm, slope: slope,
                                        n: n, groups: groups, plane: plane, block: b)
                gx = t
            }
            return [gx, weight.requiresGrad ? gw : nil, bias.requiresGrad ? gb : nil]
        }
    }

    /// Max pooling on a channel-blocked input (square window, no padding).
    func blockedMaxPool2d(block b: Int, kernel: Int, stride s: Int) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let oh = (h - kernel) / s + 1, ow = (w - kernel) / s + 1
        let groups = n * (c / b)
        let out = Tensor(uninitialized: [n, c, oh, ow])
        out.layout = layout
        let recording = Tensor.needsGraph(self)
        let winners = recording ? UnsafeMutablePointer<Int32>.allocate(capacity: out.count) : nil
        let px = SendablePointer(data), po = SendablePointer(out.data), pwin = winners.map { SendablePointer($0) }
        Parallel.chunks(groups, minimum: 4) { _, range in
            for gi in range {
                let src = px.pointer + gi * h * w * b, dst = po.pointer + gi * oh * ow * b
                let win = pwin.map { $0.pointer + gi * oh * ow * b }
                if kernel == 2 && s == 2 && b % 4 == 0 {
                    // The common 2×2/2 window on whole vectors of a channel block.
                    BlockedPool.max2x2(src, dst, winners: win, width: w, outHeight: oh, outWidth: ow, block: b)
                    continue
                }
                if kernel == 2 && s == 2 {
                    // The common 2×2/2 window: four candidate vectors per output position.
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let o = (oy * ow + ox) * b
                            let a0 = ((2 * oy) * w + 2 * ox) * b, a1 = a0 + b, a2 = a0 + w * b, a3 = a2 + b
                            if let win {
                                for j in 0..<b {
                                    var best = src[a0 + j], at = a0 + j
                                    if src[a1 + j] > best { best = src[a1 + j]; at = a1 + j }
                                    if src[a2 + j] > best { best = src[a2 + j]; at = a2 + j }
                                    if src[a3 + j] > best { best = src[a3 + j]; at = a3 + j }
                                    dst[o + j] = best
                                    win[o + j] = Int32(at)
                                }
                            } else {
                                for j in 0..<b {
                                    dst[o + j] = Swift.max(Swift.max(src[a0 + j], src[a1 + j]), Swift.max(src[a2 + j], src[a3 + j]))
                                }
                            }
                        }
                    }
                    continue
                }
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let o = (oy * ow + ox) * b
                        let first = ((oy * s) * w + ox * s) * b
                        for j in 0..<b { dst[o + j] = src[first + j]; win?[o + j] = Int32(first + j) }
                        for ky in 0..<kernel {
                            for kx in 0..<kernel where ky != 0 || kx != 0 {
                                let at = ((oy * s + ky) * w + ox * s + kx) * b
                                for j in 0..<b where src[at + j] > dst[o + j] {
                                    dst[o + j] = src[at + j]
                                    win?[o + j] = Int32(at + j)
                                }
                            }
                        }
                    }
                }
            }
        }
        guard recording, let winners else { return out }
        let inShape = shape, inLayout = layout
        let owned = WinnerIndices(winners)
        return out.record([self]) { g in
            // Each group's winners point into its own input block: zero a block and scatter into
            // it on the same thread, while it is in cache (one serial memset of the whole
            // gradient had cost as much as the scatter).
            let gx = Tensor(uninitialized: inShape)
            gx.layout = inLayout
            let outGroup = oh * ow * b, inGroup = h * w * b
            let pg = SendablePointer(g.data), pgx = SendablePointer(gx.data), pw = SendablePointer(owned.pointer)
            Parallel.chunks(groups, minimum: 4) { _, range in
                for gi in range {
                    let gp = pg.pointer + gi * outGroup, dp = pgx.pointer + gi * inGroup, wp = pw.pointer + gi * outGroup
                    dp.update(repeating: 0, count: inGroup)
                    for i in 0..<outGroup { dp[Int(wp[i])] += gp[i] }
                }
            }
            return [gx]
        }
    }

    /// Global average pooling of a channel-blocked input into plain [N, C].
    func blockedGlobalAvgPool(block b: Int) -> Tensor {
        let (n, c, plane) = (shape[0], shape[1], shape[2] * shape[3])
        let groups = c / b
        let out = Tensor.zeros([n, c])
        let scale = 1 / Float(plane)
        for i in 0..<n {
            for cb in 0..<groups {
                let src = data + (i * groups + cb) * plane * b, dst = out.data + i * c + cb * b
                for p in 0..<plane { for j in 0..<b { dst[j] += src[p * b + j] } }
                for j in 0..<b { dst[j] *= scale }
            }
        }
        guard Tensor.needsGraph(self) else { return out }
        let inShape = shape, inLayout = layout
        return out.record([self]) { g in
            let gx = Tensor(uninitialized: inShape)
            gx.layout = inLayout
            for i in 0..<n {
                for cb in 0..<groups {
                    let dst = gx.data + (i * groups + cb) * plane * b, src = g.data + i * c + cb * b
                    for p in 0..<plane { for j in 0..<b { dst[p * b + j] = src[j] * scale } }
                }
            }
            return [gx]
        }
    }
}

/// Max pooling's 2×2 stride-2 window over one [H][W][b] channel block, b a multiple of 4, on
/// the widest SIMD type dividing b (the scalar loop with Swift's `max` did not vectorise and was
/// the largest part of a small net's forward pass after the convolutions).
enum BlockedPool {
    /// `dst[oy][ox]` = the largest of the four inputs of its window, lane by lane; `winners`
    /// (training): the offset within `src` of the first input that holds it.
    static func max2x2(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, winners: UnsafeMutablePointer<Int32>?,
                       width w: Int, outHeight oh: Int, outWidth ow: Int, block b: Int) {
        precondition(winners == nil || (2 * oh + 1) * w * b < Int(Int32.max), "max pooling offsets beyond 2^31 cannot be carried as Int32")
        func run<V: SIMDWidth>(_: V.Type) {
            var lanes = V.Indices()
            for j in 0..<V.scalarCount { lanes[j] = Int32(j) }
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let o = (oy * ow + ox) * b
                    let a0 = ((2 * oy) * w + 2 * ox) * b, a1 = a0 + b, a2 = a0 + w * b, a3 = a2 + b
                    guard let winners else {
                        for k in stride(from: 0, to: b, by: V.scalarCount) {
                            let best = V.maximum(V.maximum(BlockedBN.load(src + a0 + k), BlockedBN.load(src + a1 + k)),
                                                 V.maximum(BlockedBN.load(src + a2 + k), BlockedBN.load(src + a3 + k)))
                            BlockedBN.store(best, dst + o + k)
                        }
                        continue
                    }
                    // Training: the first strictly larger input wins; its offset rides along in
                    // the integer lanes of the comparison masks and is stored as one vector.
                    for k in stride(from: 0, to: b, by: V.scalarCount) {
                        var best: V = BlockedBN.load(src + a0 + k), at = lanes &+ V.Indices(repeating: Int32(a0 + k))
                        V.keepLarger(&best, &at, BlockedBN.load(src + a1 + k), lanes &+ V.Indices(repeating: Int32(a1 + k)))
                        V.keepLarger(&best, &at, BlockedBN.load(src + a2 + k), lanes &+ V.Indices(repeating: Int32(a2 + k)))
                        V.keepLarger(&best, &at, BlockedBN.load(src + a3 + k), lanes &+ V.Indices(repeating: Int32(a3 + k)))
                        BlockedBN.store(best, dst + o + k)
                        UnsafeMutableRawPointer(winners + o + k).storeBytes(of: at, as: V.Indices.self)
                    }
                }
            }
        }
        BlockedBN.dispatch(block: b, { run(SIMD16<Float>.self) }, { run(SIMD8<Float>.self) }, { run(SIMD4<Float>.self) })
    }
}

/// The passes of the channel-blocked batch norm over [N][C/b][H][W][b] data, b a multiple of 4.
///
/// Each pass is generic over the SIMD width and runs on the widest of 16, 8 or 4 lanes that
/// divides the block, so with oneDNN's blocks (8 or 16) a whole channel block is one vector
/// and the accumulators stay in registers.
enum BlockedBN {
    @inline(__always) static func load<V: SIMD>(_ p: UnsafePointer<Float>, as: V.Type = V.self) -> V where V.Scalar == Float {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }
    @inline(__always) static func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// Runs `run` specialised for the widest SIMD type whose lane count divides `b` (spelled out
    /// per width so each call is a concrete, specialised one).
    @inline(__always)
    static func dispatch(block b: Int, _ run16: () -> Void, _ run8: () -> Void, _ run4: () -> Void) {
        precondition(b % 4 == 0, "blocked batch norm needs a block that is a multiple of 4, got \(b)")
        if b % 16 == 0 { run16() } else if b % 8 == 0 { run8() } else { run4() }
    }

    /// Per-channel [Σa (c values), Σa·(x − μ) or Σa² (c values)] in Double.
    ///
    /// With `x` nil the second sum is Σa²; otherwise it is Σa·(x − μ) with `mu` per channel.
    /// With `mask`, a counts only where mask > 0 (a ReLU's output). Each image is summed in
    /// Float, images are added in Double; chunks of images are combined in chunk order.
    static func channelSums(_ a: UnsafeMutablePointer<Float>, _ x: UnsafeMutablePointer<Float>?, _ mask: UnsafeMutablePointer<Float>?,
                            mu: UnsafeMutablePointer<Float>?, n: Int, groups: Int, plane: Int, block b: Int) -> [Double] {
        precondition(mask == nil || (x != nil && mu != nil), "a masked channel sum needs x and μ")
        precondition((x == nil) == (mu == nil), "Σa·(x − μ) needs both x and μ")
        let c = groups * b
        let chunks = Parallel.chunkCount(n)
        let partials = UnsafeMutablePointer<Double>.allocate(capacity: chunks * 2 * c)
        partials.initialize(repeating: 0, count: chunks * 2 * c)
        defer { partials.deallocate() }
        do {
            func run<V: SIMDWidth>(_: V.Type) {
                let pa = SendablePointer(a), px = x.map { SendablePointer($0) }, pm = mask.map { SendablePointer($0) }
                let pmu = mu.map { SendablePointer($0) }, pp = SendablePointer(partials)
                Parallel.chunks(n) { chunk, images in
                    let acc = pp.pointer + chunk * 2 * c
                    for i in images {
                        for cb in 0..<groups {
                            let offset = (i * groups + cb) * plane * b
                            for k in stride(from: 0, to: b, by: V.scalarCount) {
                                let ap = pa.pointer + offset + k
                                var s1 = V.zero, s2 = V.zero
                                if let px {
                                    let xp = px.pointer + offset + k, m: V = load(pmu!.pointer + cb * b + k)
                                    if let pm {
                                        let mp = pm.pointer + offset + k
                                        for p in 0..<plane {
                                            let av = V.keep(load(ap + p * b), whereMaskPositive: load(mp + p * b))
                                            s1 += av
                                            s2 += av * (load(xp + p * b) - m)
                                        }
                                    } else {
                                        for p in 0..<plane {
                                            let av: V = load(ap + p * b)
                                            s1 += av
                                            s2 += av * (load(xp + p * b) - m)
                                        }
                                    }
                                } else {
                                    for p in 0..<plane {
                                        let av: V = load(ap + p * b)
                                        s1 += av
                                        s2 += av * av
                                    }
                                }
                                for j in 0..<V.scalarCount {
                                    let ch = cb * b + k + j
                                    acc[ch] += Double(s1[j])
                                    acc[c + ch] += Double(s2[j])
                                }
                            }
                        }
                    }
                }
            }
            dispatch(block: b, { run(SIMD16<Float>.self) }, { run(SIMD8<Float>.self) }, { run(SIMD4<Float>.self) })
        }
        var result = [Double](repeating: 0, count: 2 * c)
        for chunk in 0..<chunks {
            for i in 0..<(2 * c) { result[i] += partials[chunk * 2 * c + i] }
        }
        return result
    }

    /// out = x·scale + shift per channel, then max(·, 0) when `relu` (NaN maps to 0).
    static func affine(_ x: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                       scale: UnsafeMutablePointer<Float>, shift: UnsafeMutablePointer<Float>,
                       n: Int, groups: Int, plane: Int, block b: Int, relu: Bool) {
        do {
            func run<V: SIMDWidth>(_: V.Type) {
                let px = SendablePointer(x), po = SendablePointer(out), psc = SendablePointer(scale), psh = SendablePointer(shift)
                Parallel.chunks(n * groups) { _, units in
                    for u in units {
                        let cb = u % groups
                        for k in stride(from: 0, to: b, by: V.scalarCount) {
                            let sc: V = load(psc.pointer + cb * b + k), sh: V = load(psh.pointer + cb * b + k)
                            let src = px.pointer + u * plane * b + k, dst = po.pointer + u * plane * b + k
                            if relu {
                                for p in 0..<plane {
                                    let y = load(src + p * b) * sc + sh
                                    store(V.keep(y, whereMaskPositive: y), dst + p * b)
                                }
                            } else {
                                for p in 0..<plane { store(load(src + p * b) * sc + sh, dst + p * b) }
                            }
                        }
                    }
                }
            }
            dispatch(block: b, { run(SIMD16<Float>.self) }, { run(SIMD8<Float>.self) }, { run(SIMD4<Float>.self) })
        }
    }

    /// dx = k·g' − shiftTerm − (x − μ)·slope per channel, g' = g masked by `mask` > 0 when given.
    static func inputGradient(_ g: UnsafeMutablePointer<Float>, _ x: UnsafeMutablePointer<Float>, _ mask: UnsafeMutablePointer<Float>?,
                              _ dx: UnsafeMutablePointer<Float>, mu: UnsafeMutablePointer<Float>, k kc: UnsafeMutablePointer<Float>,
                              shiftTerm: UnsafeMutablePointer<Float>, slope: UnsafeMutablePointer<Float>,
                              n: Int, groups: Int, plane: Int, block b: Int) {
        do {
            func run<V: SIMDWidth>(_: V.Type) {
                let pg = SendablePointer(g), px = SendablePointer(x), pm = mask.map { SendablePointer($0) }, pd = SendablePointer(dx)
                let pmu = SendablePointer(mu), pk = SendablePointer(kc), psh = SendablePointer(shiftTerm), psl = SendablePointer(slope)
                Parallel.chunks(n * groups) { _, units in
                    for u in units {
                        let cb = u % groups
                        for k in stride(from: 0, to: b, by: V.scalarCount) {
                            let at = cb * b + k
                            let m: V = load(pmu.pointer + at), kv: V = load(pk.pointer + at)
                            let sh: V = load(psh.pointer + at), sl: V = load(psl.pointer + at)
                            let offset = u * plane * b + k
                            let gp = pg.pointer + offset, xp = px.pointer + offset, dp = pd.pointer + offset
                            if let pm {
                                let mp = pm.pointer + offset
                                for p in 0..<plane {
                                    let gv = V.keep(load(gp + p * b), whereMaskPositive: load(mp + p * b))
                                    store(kv * gv - sh - (load(xp + p * b) - m) * sl, dp + p * b)
                                }
                            } else {
                                for p in 0..<plane {
                                    store(kv * load(gp + p * b) - sh - (load(xp + p * b) - m) * sl, dp + p * b)
                                }
                            }
                        }
                    }
                }
            }
            dispatch(block: b, { run(SIMD16<Float>.self) }, { run(SIMD8<Float>.self) }, { run(SIMD4<Float>.self) })
        }
    }
}

/// The Float SIMD types the blocked kernels run on.
///
/// The comparison is a requirement implemented on each concrete type: there `.>` and
/// `replacing` compile to vector compare-and-mask, while the generic SIMD versions a generic
/// kernel would otherwise call run lane by lane.
protocol SIMDWidth: SIMD where Scalar == Float {
    /// `value` where `mask` > 0, else 0 (NaN in `mask` gives 0).
    static func keep(_ value: Self, whereMaskPositive mask: Self) -> Self
    /// Lane-wise `b >= a ? b : a`, exactly Swift's `max(a, b)` (a NaN in `b` keeps `a`, a NaN in `a` stays).
    static func maximum(_ a: Self, _ b: Self) -> Self
    /// The integer vector of as many lanes (the comparison masks' own storage).
    associatedtype Indices: SIMD where Indices.Scalar == Int32
    /// Where `candidate` > `best` lane by lane, takes it and its `index`.
    static func keepLarger(_ best: inout Self, _ at: inout Indices, _ candidate: Self, _ index: Indices)
}
extension SIMD4: SIMDWidth where Scalar == Float {
    @inline(__always) static func keep(_ value: Self, whereMaskPositive mask: Self) -> Self {
        Self.zero.replacing(with: value, where: mask .> 0)
    }
    @inline(__always) static func maximum(_ a: Self, _ b: Self) -> Self { a.replacing(with: b, where: b .>= a) }
    typealias Indices = SIMD4<Int32>
    @inline(__always) static func keepLarger(_ best: inout Self, _ at: inout Indices, _ candidate: Self, _ index: Indices) {
        let larger = candidate .> best
        best.replace(with: candidate, where: larger)
        at.replace(with: index, where: larger)
    }
}
extension SIMD8: SIMDWidth where Scalar == Float {
    @inline(__always) static func keep(_ value: Self, whereMaskPositive mask: Self) -> Self {
        Self.zero.replacing(with: value, where: mask .> 0)
    }
    @inline(__always) static func maximum(_ a: Self, _ b: Self) -> Self { a.replacing(with: b, where: b .>= a) }
    typealias Indices = SIMD8<Int32>
    @inline(__always) static func keepLarger(_ best: inout Self, _ at: inout Indices, _ candidate: Self, _ index: Indices) {
        let larger = candidate .> best
        best.replace(with: candidate, where: larger)
        at.replace(with: index, where: larger)
    }
}
extension SIMD16: SIMDWidth where Scalar == Float {
    @inline(__always) static func keep(_ value: Self, whereMaskPositive mask: Self) -> Self {
        Self.zero.replacing(with: value, where: mask .> 0)
    }
    @inline(__always) static func maximum(_ a: Self, _ b: Self) -> Self { a.replacing(with: b, where: b .>= a) }
    typealias Indices = SIMD16<Int32>
    @inline(__always) static func keepLarger(_ best: inout Self, _ at: inout Indices, _ candidate: Self, _ index: Indices) {
        let larger = candidate .> best
        best.replace(with: candidate, where: larger)
        at.replace(with: index, where: larger)
    }
}
