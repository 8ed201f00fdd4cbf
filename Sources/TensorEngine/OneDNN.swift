import CDNNL

/// Convolutions through oneDNN's C API (Debian's libdnnl), in the channel-blocked layout its
/// JIT kernels use. Primitives are created once per geometry and cached; weights stay in
/// PyTorch's OIHW order and are reordered per call (they are small).
final class OneDNN: @unchecked Sendable {
    static let shared: OneDNN? = OneDNN()

    /// Channel block of the activations (16 with AVX-512, 8 with AVX2).
    let block: Int
    private let engine: dnnl_engine_t
    /// One stream per worker slot: oneDNN streams are not thread-safe.
    private var streams: [dnnl_stream_t] = []
    private let lock = PoolLock()
    private var plans: [PlanKey: ConvPlan] = [:]

    private init?() {
        if let env = getenv("HONEYTRACE_ONEDNN"), String(cString: env) == "0" { return nil }
        let isa = dnnl_get_effective_cpu_isa()
        if isa.rawValue >= dnnl_cpu_isa_avx512_core.rawValue && isa != dnnl_cpu_isa_all {
            block = 16
        } else if isa.rawValue >= dnnl_cpu_isa_avx2.rawValue {
            block = 8
        } else {
            return nil
        }
        var e: dnnl_engine_t? = nil
        guard dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, let e else { return nil }
        engine = e
        for _ in 0..<max(Parallel.threadCount, 1) {
            var s: dnnl_stream_t? = nil
            guard dnnl_stream_create(&s, e, UInt32(dnnl_stream_default_flags.rawValue)) == dnnl_success, let s else { return nil }
            streams.append(s)
        }
    }

    enum Kind: Hashable { case forwardTraining, forwardInference, backwardData, backwardWeights }

    /// Operations oneDNN applies to a forward convolution's output before storing it:
    /// `sum` adds what the destination already holds (a residual), `relu` clamps at zero.
    enum PostOps: Hashable { case none, relu, sum, sumReLU }

    struct PlanKey: Hashable {
        let geometry: Conv2DGeometry
        let kind: Kind
        let hasBias: Bool
        let sourceBlocked: Bool
        /// Worker slot: each slot runs its own primitive on its share of the batch.
        var slot = 0
        /// Only for `.forwardInference` (the folded inference convolutions).
        var postOps = PostOps.none
    }

    /// A created primitive with the memory descriptors it runs on and the weight reorder it needs.
    final class ConvPlan {
        let primitive: dnnl_primitive_t
        let descriptor: dnnl_primitive_desc_t
        var sourceMD = dnnl_memory_desc_t(), weightsMD = dnnl_memory_desc_t(), destinationMD = dnnl_memory_desc_t()
        var biasMD = dnnl_memory_desc_t()
        var plainWeightsMD = dnnl_memory_desc_t()
        /// OIHW → primitive's weights (forward, backward data) or back (backward weights); nil when equal.
        var weightsReorder: dnnl_primitive_t? = nil
        var weightsBytes = 0
        /// Each primitive's own scratch memory (user scratchpad mode), nil when it needs none.
        var scratchpad: Scratchpad? = nil
        var reorderScratchpad: Scratchpad? = nil

        /// oneDNN's name for the kernel it picked ("jit:avx2", "ref:any", ...), asked once when the plan is made.
        let implementation: String

        init(primitive: dnnl_primitive_t, descriptor: dnnl_primitive_desc_t) {
            self.primitive = primitive
            self.descriptor = descriptor
            var name: UnsafePointer<CChar>? = nil
            if dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name {
                implementation = String(cString: name)
            } else {
                implementation = ""
            }
        }
    }

    /// Scratch memory owned by one plan. oneDNN's default ("library") scratchpad can be a global
    /// buffer that is thread-local to the thread that *created* the primitive, while ours are
    /// created on the caller and run on whichever pool thread takes the slot (the Winograd kernels
    /// crash that way). In user mode each primitive gets its own buffer here, handed over on every
    /// execution; a slot's plans run on one thread at a time.
    final class Scratchpad {
        var descriptor: dnnl_memory_desc_t
        let pointer: UnsafeMutableRawPointer
        init?(_ pd: dnnl_primitive_desc_t) {
            guard let md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0) else { return nil }
            descriptor = md.pointee
            let bytes = Int(dnnl_memory_desc_get_size(&descriptor))
            guard bytes > 0 else { return nil }
            pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        }
    }

    /// Primitive attributes: user-managed scratchpad, plus the given post-operations.
    private func attributes(_ postOps: PostOps = .none) -> dnnl_primitive_attr_t {
        var attr: dnnl_primitive_attr_t? = nil
        check(dnnl_primitive_attr_create(&attr), "primitive attributes")
        check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")
        if postOps != .none {
            var ops: dnnl_post_ops_t? = nil
            check(dnnl_post_ops_create(&ops), "post-ops")
            if postOps == .sum || postOps == .sumReLU { check(dnnl_post_ops_append_sum(ops, 1), "sum post-op") }
            if postOps == .relu || postOps == .sumReLU {
                check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "ReLU post-op")
            }
            check(dnnl_primitive_attr_set_post_ops(attr, ops), "set post-ops")
            dnnl_post_ops_destroy(ops)
        }
        return attr!
    }

    private func check(_ status: dnnl_status_t, _ what: String) {
        precondition(status == dnnl_success, "oneDNN \(what) failed with status \(status.rawValue)")
    }

    private func descriptor(_ dims: [Int], tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag), "memory descriptor \(dims)")
        return md
    }

    private var blockTag: dnnl_format_tag_t { block == 16 ? dnnl_aBcd16b : dnnl_aBcd8b }

    private func plan(_ key: PlanKey) -> ConvPlan {
        if let p = plans[key] { return p }
        // oneDNN fixes a primitive's thread count when it creates it (from the creating thread's
        // OpenMP setting), whatever the thread that runs it asks for later. Every slot runs its
        // primitives single-threaded, so create them so: otherwise a primitive made on a thread
        // with the default setting runs an OpenMP team of every core, whose spinning threads
        // compete with the engine's own (and with a server's event loops) at every call.
        omp_set_num_threads(1)
        let g = key.geometry
        let srcDims = [g.batch, g.inChannels, g.height, g.width]
        let dstDims = [g.batch, g.outChannels, g.outHeight, g.outWidth]
        let wDims = [g.outChannels, g.inChannels, g.kernelH, g.kernelW]
        var src = descriptor(srcDims, tag: key.sourceBlocked ? blockTag : dnnl_nchw)
        var dst = descriptor(dstDims, tag: blockTag)
        var wAny = descriptor(wDims, tag: dnnl_format_tag_any)
        var bias = descriptor([g.outChannels], tag: dnnl_x)
        let strides: [Int64] = [Int64(g.stride), Int64(g.stride)]
        let pad: [Int64] = [Int64(g.padding), Int64(g.padding)]
        // Right padding so that the output size matches floor division exactly.
        let padR: [Int64] = [Int64((g.outHeight - 1) * g.stride + g.kernelH - g.height - g.padding),
                             Int64((g.outWidth - 1) * g.stride + g.kernelW - g.width - g.padding)]
        var conv = dnnl_convolution_desc_t()
        var pd: dnnl_primitive_desc_t? = nil
        switch key.kind {
        case .forwardTraining, .forwardInference:
            let biasPointer: UnsafePointer<dnnl_memory_desc_t>? = key.hasBias ? withUnsafePointer(to: &bias) { $0 } : nil
            check(dnnl_convolution_forward_desc_init(&conv, key.kind == .forwardTraining ? dnnl_forward_training : dnnl_forward_inference,
                                                     dnnl_convolution_direct, &src, &wAny, biasPointer, &dst,
                                                     strides, pad, padR), "convolution forward descriptor")
            let attr = attributes(key.postOps)
            check(dnnl_primitive_desc_create(&pd, &conv, attr, engine, nil), "convolution forward primitive descriptor")
            dnnl_primitive_attr_destroy(attr)
        case .backwardData, .backwardWeights:
            let hint = plan(PlanKey(geometry: g, kind: .forwardTraining, hasBias: key.hasBias, sourceBlocked: key.sourceBlocked, slot: key.slot))
            if key.kind == .backwardData {
                check(dnnl_convolution_backward_data_desc_init(&conv, dnnl_convolution_direct, &src, &wAny, &dst, strides, pad, padR),
                      "convolution backward-data descriptor")
            } else {
                let biasPointer: UnsafePointer<dnnl_memory_desc_t>? = key.hasBias ? withUnsafePointer(to: &bias) { $0 } : nil
                check(dnnl_convolution_backward_weights_desc_init(&conv, dnnl_convolution_direct, &src, &wAny,
                                                                  biasPointer, &dst, strides, pad, padR),
                      "convolution backward-weights descriptor")
            }
            let attr = attributes()
            check(dnnl_primitive_desc_create(&pd, &conv, attr, engine, hint.descriptor), "convolution backward primitive descriptor")
            dnnl_primitive_attr_destroy(attr)
        }
        var prim: dnnl_primitive_t? = nil
        check(dnnl_primitive_create(&prim, pd), "convolution primitive")
        let p = ConvPlan(primitive: prim!, descriptor: pd!)
        p.sourceMD = src
        p.destinationMD = dst
        p.biasMD = bias
        p.scratchpad = Scratchpad(pd!)
        let weightsQuery = key.kind == .backwardWeights ? dnnl_query_diff_weights_md : dnnl_query_weights_md
        p.weightsMD = dnnl_primitive_desc_query_md(pd, weightsQuery, 0)!.pointee
        p.plainWeightsMD = descriptor(wDims, tag: dnnl_oihw)
        p.weightsBytes = Int(dnnl_memory_desc_get_size(&p.weightsMD))
        if dnnl_memory_desc_equal(&p.weightsMD, &p.plainWeightsMD) == 0 {
            var rpd: dnnl_primitive_desc_t? = nil
            let attr = attributes()
            if key.kind == .backwardWeights {
                check(dnnl_reorder_primitive_desc_create(&rpd, &p.weightsMD, engine, &p.plainWeightsMD, engine, attr), "weights reorder")
            } else {
                check(dnnl_reorder_primitive_desc_create(&rpd, &p.plainWeightsMD, engine, &p.weightsMD, engine, attr), "weights reorder")
            }
            dnnl_primitive_attr_destroy(attr)
            var r: dnnl_primitive_t? = nil
            check(dnnl_primitive_create(&r, rpd), "weights reorder primitive")
            p.reorderScratchpad = Scratchpad(rpd!)
            dnnl_primitive_desc_destroy(rpd)
            p.weightsReorder = r
        }
        plans[key] = p
        return p
    }

    /// Wraps a pointer as oneDNN memory for the duration of one call.
    private func memory(_ md: inout dnnl_memory_desc_t, _ pointer: UnsafeMutableRawPointer) -> dnnl_memory_t {
        var m: dnnl_memory_t? = nil
        check(dnnl_memory_create(&m, &md, engine, pointer), "memory")
        return m!
    }

    private func run(_ primitive: dnnl_primitive_t, _ args: [(Int32, dnnl_memory_t)], scratchpad: Scratchpad?, slot: Int) {
        var args = args
        if let scratchpad { args.append((DNNL_ARG_SCRATCHPAD, memory(&scratchpad.descriptor, scratchpad.pointer))) }
        let execArgs = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
        check(dnnl_primitive_execute(primitive, streams[slot], Int32(execArgs.count), execArgs), "execute")
        check(dnnl_stream_wait(streams[slot]), "stream wait")
        for (_, m) in args { dnnl_memory_destroy(m) }
    }

    /// Weights in the primitive's format: the caller's OIHW buffer or a reordered copy.
    private func preparedWeights(_ p: ConvPlan, _ w: UnsafeMutablePointer<Float>, slot: Int) -> (UnsafeMutableRawPointer, Bool) {
        guard let reorder = p.weightsReorder else { return (UnsafeMutableRawPointer(w), false) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(p.weightsBytes, 4), alignment: 64)
        run(reorder, [(DNNL_ARG_FROM, memory(&p.plainWeightsMD, UnsafeMutableRawPointer(w))), (DNNL_ARG_TO, memory(&p.weightsMD, buffer))], scratchpad: p.reorderScratchpad, slot: slot)
        return (buffer, true)
    }

    /// Splits the batch over the worker slots. Each slot runs single-threaded oneDNN primitives
    /// on its images (OpenMP would otherwise spin threads that compete with the engine's pool).
    private func perSlot(_ g: Conv2DGeometry, _ body: (_ slot: Int, _ images: Range<Int>, _ geometry: Conv2DGeometry) -> Void) {
        let slots = Parallel.chunkCount(g.batch)
        let plans: [Conv2DGeometry] = (0..<slots).map { slot in
            let r = Parallel.chunkRange(g.batch, chunks: slots, index: slot)
            return Conv2DGeometry(batch: r.count, inChannels: g.inChannels, height: g.height, width: g.width,
                                  outChannels: g.outChannels, kernelH: g.kernelH, kernelW: g.kernelW,
                                  stride: g.stride, padding: g.padding)
        }
        Parallel.forEach(slots) { slot in
            omp_set_num_threads(1)
            body(slot, Parallel.chunkRange(g.batch, chunks: slots, index: slot), plans[slot])
        }
    }

    private func plans(_ g: Conv2DGeometry, _ kind: Kind, hasBias: Bool, sourceBlocked: Bool, postOps: PostOps = .none) -> [ConvPlan] {
        let slots = Parallel.chunkCount(g.batch)
        return lock.withLock {
            (0..<slots).map { slot in
                let r = Parallel.chunkRange(g.batch, chunks: slots, index: slot)
                let sub = Conv2DGeometry(batch: r.count, inChannels: g.inChannels, height: g.height, width: g.width,
                                         outChannels: g.outChannels, kernelH: g.kernelH, kernelW: g.kernelW,
                                         stride: g.stride, padding: g.padding)
                return plan(PlanKey(geometry: sub, kind: kind, hasBias: hasBias, sourceBlocked: sourceBlocked, slot: slot, postOps: postOps))
            }
        }
    }

    func forward(_ g: Conv2DGeometry, training: Bool, sourceBlocked: Bool, x: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>,
                 bias: UnsafeMutablePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let ps = plans(g, training ? .forwardTraining : .forwardInference, hasBias: bias != nil, sourceBlocked: sourceBlocked)
        let inImage = g.inChannels * g.height * g.width, outImage = g.outChannels * g.outPlane
        let px = SendablePointer(x), pw = SendablePointer(w), po = SendablePointer(out), pb = bias.map { SendablePointer($0) }
        lock.executing {
            perSlot(g) { slot, images, _ in
                let p = ps[slot]
                let (weights, owned) = preparedWeights(p, pw.pointer, slot: slot)
                defer { if owned { weights.deallocate() } }
                var args = [(DNNL_ARG_SRC, memory(&p.sourceMD, UnsafeMutableRawPointer(px.pointer + images.lowerBound * inImage))),
                            (DNNL_ARG_WEIGHTS, memory(&p.weightsMD, weights)),
                            (DNNL_ARG_DST, memory(&p.destinationMD, UnsafeMutableRawPointer(po.pointer + images.lowerBound * outImage)))]
                if let pb { args.append((DNNL_ARG_BIAS, memory(&p.biasMD, UnsafeMutableRawPointer(pb.pointer)))) }
                run(p.primitive, args, scratchpad: p.scratchpad, slot: slot)
            }
        }
    }

    /// Inference convolution with weights already folded (OIHW at `plainWeights`), optional bias
    /// and post-operations. Each plan's weights are reordered once per refresh of `cache` rather
    /// than on every call. With a `sum` post-op, `out` must hold the residual on entry, or
    /// `residual` names where to copy it from (each slot copies its own images just before its
    /// convolution, in parallel and while they are still in cache).
    func forwardFolded(_ g: Conv2DGeometry, sourceBlocked: Bool, postOps: PostOps, x: UnsafeMutablePointer<Float>,
                       plainWeights: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?, out: UnsafeMutablePointer<Float>,
                       residual: UnsafeMutablePointer<Float>? = nil, cache: FoldedConvolutionCache) {
        let ps = plans(g, .forwardInference, hasBias: bias != nil, sourceBlocked: sourceBlocked, postOps: postOps)
        let inImage = g.inChannels * g.height * g.width, outImage = g.outChannels * g.outPlane
        let px = SendablePointer(x), po = SendablePointer(out), pb = bias.map { SendablePointer($0) }
        let pr = residual.map { SendablePointer($0) }
        lock.executing {
            // Prepared on this thread before the parallel part; small, and cached across calls.
            let weights: [UncheckedBox<UnsafeMutableRawPointer>] = ps.map { p in
                guard let reorder = p.weightsReorder else { return UncheckedBox(UnsafeMutableRawPointer(plainWeights)) }
                return UncheckedBox(cache.preparedWeights(for: ObjectIdentifier(p), bytes: p.weightsBytes) { buffer in
                    omp_set_num_threads(1)
                    run(reorder, [(DNNL_ARG_FROM, memory(&p.plainWeightsMD, UnsafeMutableRawPointer(plainWeights))),
                                  (DNNL_ARG_TO, memory(&p.weightsMD, buffer))], scratchpad: p.reorderScratchpad, slot: 0)
                })
            }
            perSlot(g) { slot, images, _ in
                let p = ps[slot]
                if let pr {
                    (po.pointer + images.lowerBound * outImage).update(from: pr.pointer + images.lowerBound * outImage,
                                                                       count: images.count * outImage)
                }
                var args = [(DNNL_ARG_SRC, memory(&p.sourceMD, UnsafeMutableRawPointer(px.pointer + images.lowerBound * inImage))),
                            (DNNL_ARG_WEIGHTS, memory(&p.weightsMD, weights[slot].value)),
                            (DNNL_ARG_DST, memory(&p.destinationMD, UnsafeMutableRawPointer(po.pointer + images.lowerBound * outImage)))]
                if let pb { args.append((DNNL_ARG_BIAS, memory(&p.biasMD, UnsafeMutableRawPointer(pb.pointer)))) }
                run(p.primitive, args, scratchpad: p.scratchpad, slot: slot)
            }
        }
    }

    func backwardData(_ g: Conv2DGeometry, sourceBlocked: Bool, hasBias: Bool, w: UnsafeMutablePointer<Float>,
                      gOut: UnsafeMutablePointer<Float>, gx: UnsafeMutablePointer<Float>) {
        let ps = plans(g, .backwardData, hasBias: hasBias, sourceBlocked: sourceBlocked)
        let inImage = g.inChannels * g.height * g.width, outImage = g.outChannels * g.outPlane
        let pw = SendablePointer(w), pg = SendablePointer(gOut), pgx = SendablePointer(gx)
        lock.executing {
            perSlot(g) { slot, images, _ in
                let p = ps[slot]
                let (weights, owned) = preparedWeights(p, pw.pointer, slot: slot)
                defer { if owned { weights.deallocate() } }
                run(p.primitive, [(DNNL_ARG_DIFF_SRC, memory(&p.sourceMD, UnsafeMutableRawPointer(pgx.pointer + images.lowerBound * inImage))),
                                  (DNNL_ARG_WEIGHTS, memory(&p.weightsMD, weights)),
                                  (DNNL_ARG_DIFF_DST, memory(&p.destinationMD, UnsafeMutableRawPointer(pg.pointer + images.lowerBound * outImage)))],
                    scratchpad: p.scratchpad, slot: slot)
            }
        }
    }

    /// Whether oneDNN has only its reference (unvectorised) kernel for this backward-weights
    /// convolution. On AVX2 machines that is the case for single-channel NCHW inputs, where the
    /// reference kernel is ~100× slower than im2col + GEMM, so the caller takes that path instead.
    func backwardWeightsIsReference(_ g: Conv2DGeometry, sourceBlocked: Bool, hasBias: Bool) -> Bool {
        plans(g, .backwardWeights, hasBias: hasBias, sourceBlocked: sourceBlocked).contains { $0.implementation.hasPrefix("ref") }
    }

    /// Whether oneDNN has only its reference kernel for this backward-data convolution (on AVX2
    /// machines, single-channel NCHW inputs: the input gradient PGD needs), so the caller takes
    /// im2col + GEMM for it instead.
    func backwardDataIsReference(_ g: Conv2DGeometry, sourceBlocked: Bool, hasBias: Bool) -> Bool {
        plans(g, .backwardData, hasBias: hasBias, sourceBlocked: sourceBlocked).contains { $0.implementation.hasPrefix("ref") }
    }

    func backwardWeights(_ g: Conv2DGeometry, sourceBlocked: Bool, x: UnsafeMutablePointer<Float>, gOut: UnsafeMutablePointer<Float>,
                         gw: UnsafeMutablePointer<Float>, gb: UnsafeMutablePointer<Float>?) {
        let ps = plans(g, .backwardWeights, hasBias: gb != nil, sourceBlocked: sourceBlocked)
        let inImage = g.inChannels * g.height * g.width, outImage = g.outChannels * g.outPlane
        let wCount = g.outChannels * g.patch, slots = ps.count
        // Per-slot partial gradients in OIHW (and bias), summed in slot order afterwards.
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: slots * (wCount + g.outChannels))
        defer { partial.deallocate() }
        let px = SendablePointer(x), pg = SendablePointer(gOut), pp = SendablePointer(partial)
        let withBias = gb != nil
        lock.executing {
            perSlot(g) { slot, images, _ in
                let p = ps[slot]
                let plainTarget = pp.pointer + slot * (wCount + g.outChannels)
                let owned = p.weightsReorder != nil
                let target = owned ? UnsafeMutableRawPointer.allocate(byteCount: max(p.weightsBytes, 4), alignment: 64) : UnsafeMutableRawPointer(plainTarget)
                defer { if owned { target.deallocate() } }
                var args = [(DNNL_ARG_SRC, memory(&p.sourceMD, UnsafeMutableRawPointer(px.pointer + images.lowerBound * inImage))),
                            (DNNL_ARG_DIFF_WEIGHTS, memory(&p.weightsMD, target)),
                            (DNNL_ARG_DIFF_DST, memory(&p.destinationMD, UnsafeMutableRawPointer(pg.pointer + images.lowerBound * outImage)))]
                if withBias { args.append((DNNL_ARG_DIFF_BIAS, memory(&p.biasMD, UnsafeMutableRawPointer(plainTarget + wCount)))) }
                run(p.primitive, args, scratchpad: p.scratchpad, slot: slot)
                if let reorder = p.weightsReorder {
                    run(reorder, [(DNNL_ARG_FROM, memory(&p.weightsMD, target)), (DNNL_ARG_TO, memory(&p.plainWeightsMD, UnsafeMutableRawPointer(plainTarget)))], scratchpad: p.reorderScratchpad, slot: slot)
                }
            }
        }
        gw.update(from: partial, count: wCount)
        if let gb { gb.update(from: partial + wCount, count: g.outChannels) }
        for slot in 1..<max(slots, 1) {
            let src = partial + slot * (wCount + g.outChannels)
            for i in 0..<wCount { gw[i] += src[i] }
            if let gb { for i in 0..<g.outChannels { gb[i] += src[wCount + i] } }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
