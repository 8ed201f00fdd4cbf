import TensorEngine

/// The image generator of data-free extraction (DFME's, after the DAFL/DCGAN generator): noise
/// z ~ N(0, I) of `noiseDimension` values → Linear → a (2w)-channel map of a quarter of the
/// image's side → batch norm → 2× nearest upsampling → 3×3 convolution (2w) → batch norm →
/// LeakyReLU(0.2) → 2× upsampling → 3×3 convolution (w) → batch norm → LeakyReLU(0.2) → 3×3
/// convolution to the image's channels → batch norm: the pre-activation image, whose tanh,
/// mapped to [0, 1], is the image. Its batch norms run in training mode on generated batches
/// (batch statistics), as in DFME, unless the module is switched to evaluation mode.
///
/// The attack perturbs the pre-activation image to estimate the victim's gradient (a perturbed
/// point still maps to valid pixels), which is why it is exposed apart from `callAsFunction`.
public final class ImageGenerator: Module, @unchecked Sendable {
    public let noiseDimension: Int
    /// `[C, H, W]` of the images; H and W divisible by 4.
    public let imageShape: [Int]
    /// Channels of the last hidden block (the first has twice as many).
    public let width: Int
    public let project: Linear
    public let blocks: Sequential

    public init(noiseDimension: Int, imageShape: [Int], width: Int, seed: UInt64) {
        precondition(noiseDimension >= 1 && width >= 1, "a generator needs ≥ 1 noise value and ≥ 1 channel")
        precondition(imageShape.count == 3 && imageShape.allSatisfy { $0 >= 1 } && imageShape[1] % 4 == 0 && imageShape[2] % 4 == 0,
                     "a generator makes [C, H, W] images with H and W divisible by 4, not \(imageShape)")
        var g = SeededGenerator(seed: seed)
        self.noiseDimension = noiseDimension
        self.imageShape = imageShape
        self.width = width
        let c = imageShape[0], quarter = (imageShape[1] / 4) * (imageShape[2] / 4)
        project = Linear(noiseDimension, 2 * width * quarter, generator: &g)
        blocks = Sequential([
            BatchNorm2d(2 * width), Upsample(factor: 2),
            Conv2d(2 * width, 2 * width, kernel: 3, padding: 1, generator: &g), BatchNorm2d(2 * width), LeakyReLU(slope: 0.2),
            Upsample(factor: 2),
            Conv2d(2 * width, width, kernel: 3, padding: 1, generator: &g), BatchNorm2d(width), LeakyReLU(slope: 0.2),
            Conv2d(width, c, kernel: 3, padding: 1, generator: &g), BatchNorm2d(c),
        ])
        super.init()
    }

    /// The pre-activation images `[N, C, H, W]` (plain layout) of noise `[N, noiseDimension]`.
    public func preActivation(_ z: Tensor) -> Tensor {
        precondition(z.rank == 2 && z.shape[1] == noiseDimension, "noise must be [N, \(noiseDimension)], got \(z.shape)")
        let h = imageShape[1] / 4, w = imageShape[2] / 4
        return blocks(project(z).reshaped([z.shape[0], 2 * width, h, w])).plain()
    }

    /// Pixels in [0, 1] from pre-activation images: (tanh + 1) / 2.
    public static func pixels(_ preActivation: Tensor) -> Tensor { (preActivation.tanh() + 1) * 0.5 }

    /// Images in [0, 1] `[N, C, H, W]` of noise `[N, noiseDimension]`.
    public override func callAsFunction(_ z: Tensor) -> Tensor { ImageGenerator.pixels(preActivation(z)) }

    public override var children: [(String, Module)] { [("project", project), ("blocks", blocks)] }
}
