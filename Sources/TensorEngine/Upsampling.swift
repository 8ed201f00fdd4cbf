/// Nearest-neighbour upsampling of [N, C, H, W] by an integer factor, the way a generator grows
/// its feature maps (PyTorch's `interpolate(x, scale_factor=s, mode="nearest")`).
extension Tensor {
    /// Each pixel repeated `factor` × `factor` times: [N, C, H, W] → [N, C, H·s, W·s]. The
    /// gradient of an input pixel is the sum of the gradients of its s² copies.
    public func upsampledNearest(_ factor: Int = 2) -> Tensor {
        if layout != .plain { return plain().upsampledNearest(factor) }
        precondition(rank == 4, "upsampledNearest needs [N, C, H, W], got \(shape)")
        precondition(factor >= 1, "upsampling factor must be ≥ 1, got \(factor)")
        if factor == 1 { return self }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let oh = h * factor, ow = w * factor
        let out = Tensor(uninitialized: [n, c, oh, ow])
        let px = SendablePointer(data), po = SendablePointer(out.data)
        Parallel.chunks(n * c, minimum: 8) { _, planes in
            for p in planes {
                let src = px.pointer + p * h * w, dst = po.pointer + p * oh * ow
                for y in 0..<h {
                    let row = dst + y * factor * ow
                    for x in 0..<w {
                        let v = src[y * w + x]
                        for k in 0..<factor { row[x * factor + k] = v }
                    }
                    for r in 1..<factor { (row + r * ow).update(from: row, count: ow) }
                }
            }
        }
        guard Tensor.needsGraph(self) else { return out }
        let inShape = shape
        return out.record([self]) { g in
            let g = g.layout == .plain ? g : g.plain()
            let gx = Tensor(uninitialized: inShape)
            let pg = SendablePointer(g.data), pd = SendablePointer(gx.data)
            Parallel.chunks(n * c, minimum: 8) { _, planes in
                for p in planes {
                    let src = pg.pointer + p * oh * ow, dst = pd.pointer + p * h * w
                    for y in 0..<h {
                        for x in 0..<w {
                            var acc: Float = 0
                            for r in 0..<factor {
                                let row = src + (y * factor + r) * ow + x * factor
                                for k in 0..<factor { acc += row[k] }
                            }
                            dst[y * w + x] = acc
                        }
                    }
                }
            }
            return [gx]
        }
    }
}
