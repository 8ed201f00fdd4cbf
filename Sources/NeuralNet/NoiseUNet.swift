import TensorEngine

/// A small U-Net noise predictor ε_θ(x_t, t) for 28×28 images (DDPM's network, scaled down to
/// train on a few CPU cores):
///
///     28×28: in-conv → block(w)                       ─ skip ─┐
///     14×14: stride-2 conv → block(2w)               ─ skip ─┐│
///      7×7 : stride-2 conv → block(2w)                        ││
///     14×14: 2× nearest upsampling → conv(2w) ⧺ skip → block(2w) ┘│
///     28×28: 2× nearest upsampling → conv(w)  ⧺ skip → block(w)   ┘ → out-conv
///
/// (⧺: channel concatenation.) The step t enters through its sinusoidal embedding and a two-layer
/// MLP (width 4w) whose output every block projects to a per-channel offset.
public final class NoiseUNet: Module, @unchecked Sendable {
    /// Channels of the full-resolution blocks (the others have twice as many).
    public let width: Int
    public let imageChannels: Int
    /// Length of the sinusoidal embedding.
    public let timeDimension: Int
    public let inConv: Conv2d, outConv: Conv2d
    public let time1: Linear, time2: Linear
    public let down1: TimeConditionedBlock, down2: TimeConditionedBlock, middle: TimeConditionedBlock
    public let pool1: Conv2d, pool2: Conv2d
    public let upConv2: Conv2d, upConv1: Conv2d
    public let up2: TimeConditionedBlock, up1: TimeConditionedBlock

    public init(width: Int, imageChannels: Int = 1, timeDimension: Int = 32, seed: UInt64) {
        precondition(width >= 1 && imageChannels >= 1, "a U-Net needs ≥ 1 channel, got width \(width), \(imageChannels) image channels")
        var g = SeededGenerator(seed: seed)
        let w = width, e = 4 * width
        self.width = w
        self.imageChannels = imageChannels
        self.timeDimension = timeDimension
        inConv = Conv2d(imageChannels, w, kernel: 3, padding: 1, generator: &g)
        time1 = Linear(timeDimension, e, generator: &g)
        time2 = Linear(e, e, generator: &g)
        down1 = TimeConditionedBlock(w, w, embedding: e, generator: &g)
        pool1 = Conv2d(w, 2 * w, kernel: 3, stride: 2, padding: 1, generator: &g)
        down2 = TimeConditionedBlock(2 * w, 2 * w, embedding: e, generator: &g)
        pool2 = Conv2d(2 * w, 2 * w, kernel: 3, stride: 2, padding: 1, generator: &g)
        middle = TimeConditionedBlock(2 * w, 2 * w, embedding: e, generator: &g)
        upConv2 = Conv2d(2 * w, 2 * w, kernel: 3, padding: 1, generator: &g)
        up2 = TimeConditionedBlock(4 * w, 2 * w, embedding: e, generator: &g)
        upConv1 = Conv2d(2 * w, w, kernel: 3, padding: 1, generator: &g)
        up1 = TimeConditionedBlock(2 * w, w, embedding: e, generator: &g)
        outConv = Conv2d(w, imageChannels, kernel: 3, padding: 1, generator: &g)
        super.init()
    }

    /// The predicted noise `[N, C, 28, 28]` for noisy images `x` `[N, C, 28, 28]` at `timesteps` (one per row).
    public func callAsFunction(_ x: Tensor, timesteps: [Int]) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == imageChannels && x.shape[2] % 4 == 0 && x.shape[3] % 4 == 0,
                     "the U-Net takes [N, \(imageChannels), H, W] with H and W divisible by 4, got \(x.shape)")
        precondition(timesteps.count == x.shape[0], "\(timesteps.count) timesteps for \(x.shape[0]) images")
        let e = time2(time1(TimeEmbedding.sinusoidal(timesteps, dimension: timeDimension)).relu())
        let s1 = down1(inConv(x), embedding: e)
        let s2 = down2(pool1(s1), embedding: e)
        let m = middle(pool2(s2), embedding: e)
        let u2 = up2(Tensor.concat([upConv2(m.upsampledNearest(2)).plain(), s2], axis: 1), embedding: e)
        let u1 = up1(Tensor.concat([upConv1(u2.upsampledNearest(2)).plain(), s1], axis: 1), embedding: e)
        return outConv(u1).plain()
    }

    public override var children: [(String, Module)] {
        [("in_conv", inConv), ("time1", time1), ("time2", time2), ("down1", down1), ("pool1", pool1), ("down2", down2),
         ("pool2", pool2), ("middle", middle), ("up_conv2", upConv2), ("up2", up2), ("up_conv1", upConv1), ("up1", up1),
         ("out_conv", outConv)]
    }
}
