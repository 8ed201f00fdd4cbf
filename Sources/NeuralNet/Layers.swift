import TensorEngine

/// PyTorch's default initialisation for Linear and Conv2d: weights and biases uniform in
/// ±1/√fan_in (kaiming_uniform with a = √5).
func defaultInit(_ shape: [Int], fanIn: Int, generator: inout SeededGenerator) -> Tensor {
    let bound = 1 / Float(fanIn).squareRoot()
    return Tensor.uniform(shape, low: -bound, high: bound, generator: &generator, requiresGrad: true)
}

/// y = x·Wᵀ + b.
public final class Linear: Module, @unchecked Sendable {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: inout SeededGenerator) {
        weight = defaultInit([outFeatures, inFeatures], fanIn: inFeatures, generator: &generator)
        self.bias = bias ? defaultInit([outFeatures], fanIn: inFeatures, generator: &generator) : nil
        super.init()
    }

    public override func callAsFunction(_ x: Tensor) -> Tensor { Tensor.linear(x, weight: weight, bias: bias) }
    public override var ownParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// 2-D convolution with square kernel, stride and zero padding.
public final class Conv2d: Module, @unchecked Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, generator: inout SeededGenerator) {
        let fanIn = inChannels * kernel * kernel
        weight = defaultInit([outChannels, inChannels, kernel, kernel], fanIn: fanIn, generator: &generator)
        self.bias = bias ? defaultInit([outChannels], fanIn: fanIn, generator: &generator) : nil
        self.stride = stride
        self.padding = padding
        super.init()
    }

    /// Folded weights for `folded(_:batchNorm:relu:)`, refreshed whenever the values behind them change.
    private let inferenceCache = FoldedConvolutionCache()

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// relu?(batchNorm(self(x)) + residual) with the batch norm (evaluation mode) folded into
    /// this convolution's weights; for inference only (nothing may record).
    func folded(_ x: Tensor, batchNorm bn: BatchNorm2d?, residual: Tensor? = nil, residualIsScratch: Bool = false, relu: Bool) -> Tensor {
        if let bn { precondition(!bn.isTraining, "folding needs the batch norm in evaluation mode") }
        return Tensor.foldedConv2d(x, weight: weight, bias: bias, stride: stride, padding: padding,
                                   batchNorm: bn.map { .init(weight: $0.weight, bias: $0.bias, runningMean: $0.runningMean,
                                                             runningVar: $0.runningVar, eps: $0.eps) },
                                   residual: residual, residualIsScratch: residualIsScratch, relu: relu, cache: inferenceCache)
    }
    public override var ownParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
}

/// Batch normalisation over channels (momentum 0.1, eps 1e-5, as PyTorch).
public final class BatchNorm2d: Module, @unchecked Sendable {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVar: Tensor
    /// PyTorch's `num_batches_tracked`, kept as a one-element tensor so it travels with the state.
    public let batchesTracked: Tensor
    public let momentum: Float, eps: Float

    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
        weight = Tensor.ones([channels], requiresGrad: true)
        bias = Tensor.zeros([channels], requiresGrad: true)
        runningMean = Tensor.zeros([channels])
        runningVar = Tensor.ones([channels])
        batchesTracked = Tensor.zeros([])
        self.momentum = momentum
        self.eps = eps
        super.init()
    }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        if isTraining { batchesTracked.data[0] += 1 }
        return Tensor.batchNorm(x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                                training: isTraining, momentum: momentum, eps: eps)
    }

    /// relu(self(x)) as one fused kernel (same values and gradients as the two layers).
    public func withReLU(_ x: Tensor) -> Tensor {
        if isTraining { batchesTracked.data[0] += 1 }
        return Tensor.batchNormReLU(x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                                    training: isTraining, momentum: momentum, eps: eps)
    }
    public override var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public override var ownBuffers: [(String, Tensor)] {
        [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", batchesTracked)]
    }
}

public final class ReLU: Module, @unchecked Sendable {
    public override init() { super.init() }
    public override func callAsFunction(_ x: Tensor) -> Tensor { x.relu() }
}

public final class LeakyReLU: Module, @unchecked Sendable {
    public let slope: Float
    public init(slope: Float = 0.01) { self.slope = slope; super.init() }
    public override func callAsFunction(_ x: Tensor) -> Tensor { x.leakyRelu(slope) }
}

/// Nearest-neighbour upsampling by an integer factor (PyTorch's `Upsample(scale_factor=s)`).
public final class Upsample: Module, @unchecked Sendable {
    public let factor: Int
    public init(factor: Int = 2) {
        precondition(factor >= 1, "upsampling factor must be ≥ 1")
        self.factor = factor
        super.init()
    }
    public override func callAsFunction(_ x: Tensor) -> Tensor { x.upsampledNearest(factor) }
}

public final class MaxPool2d: Module, @unchecked Sendable {
    public let kernel: Int, stride: Int
    public init(_ kernel: Int, stride: Int? = nil) { self.kernel = kernel; self.stride = stride ?? kernel; super.init() }
    public override func callAsFunction(_ x: Tensor) -> Tensor { x.maxPool2d(kernel: kernel, stride: stride) }
}

public final class AvgPool2d: Module, @unchecked Sendable {
    public let kernel: Int, stride: Int
    public init(_ kernel: Int, stride: Int? = nil) { self.kernel = kernel; self.stride = stride ?? kernel; super.init() }
    public override func callAsFunction(_ x: Tensor) -> Tensor { x.avgPool2d(kernel: kernel, stride: stride) }
}

/// Global average pooling, [N, C, H, W] → [N, C, 1, 1] (PyTorch's AdaptiveAvgPool2d(1)).
public final class GlobalAvgPool: Module, @unchecked Sendable {
    public override init() { super.init() }
    public override func callAsFunction(_ x: Tensor) -> Tensor {
        x.globalAvgPool().reshaped([x.shape[0], x.shape[1], 1, 1])
    }
}

/// [N, …] → [N, rest].
public final class Flatten: Module, @unchecked Sendable {
    public override init() { super.init() }
    public override func callAsFunction(_ x: Tensor) -> Tensor { x.flattened() }
}

/// Zeroes activations with probability p in training and rescales the rest by 1/(1 − p).
public final class Dropout: Module, @unchecked Sendable {
    public let probability: Float
    private var generator: SeededGenerator

    public init(_ probability: Float = 0.5, seed: UInt64 = 0) {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1)")
        self.probability = probability
        generator = SeededGenerator(seed: seed)
        super.init()
    }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining, probability > 0 else { return x }
        let keep = 1 - probability
        let mask = Tensor(uninitialized: x.shape)
        for i in 0..<mask.count { mask.data[i] = generator.nextFloat() < keep ? 1 / keep : 0 }
        return x * mask
    }
}

/// Runs children in order; they are named "0", "1", … as in PyTorch.
public final class Sequential: Module, @unchecked Sendable {
    public let layers: [Module]
    public init(_ layers: [Module]) { self.layers = layers; super.init() }
    public override func callAsFunction(_ x: Tensor) -> Tensor { runLayers(layers[...], x) }
    public override var children: [(String, Module)] { layers.enumerated().map { (String($0.offset), $0.element) } }
}

/// Runs `layers` in order, fusing the patterns the reference networks are made of:
/// BatchNorm2d → ReLU into one kernel (training and evaluation), and, when nothing records
/// (`Autograd.inference`), Conv2d → BatchNorm2d (evaluation mode) [→ ReLU] and Conv2d → ReLU
/// into one oneDNN convolution with the batch norm folded into its weights. The values are
/// those of running the layers one by one, within float rounding.
func runLayers(_ layers: ArraySlice<Module>, _ input: Tensor) -> Tensor {
    var x = input
    var i = layers.startIndex
    while i < layers.endIndex {
        let next = i + 1 < layers.endIndex ? layers[i + 1] : nil
        if let conv = layers[i] as? Conv2d, !Autograd.isRecording {
            if let bn = next as? BatchNorm2d, !bn.isTraining {
                let relu = i + 2 < layers.endIndex && layers[i + 2] is ReLU
                x = conv.folded(x, batchNorm: bn, relu: relu)
                i += relu ? 3 : 2
                continue
            }
            if next is ReLU {
                x = conv.folded(x, batchNorm: nil, relu: true)
                i += 2
                continue
            }
        }
        if let bn = layers[i] as? BatchNorm2d, next is ReLU {
            x = bn.withReLU(x)
            i += 2
            continue
        }
        x = layers[i](x)
        i += 1
    }
    return x
}

/// ResNet basic block: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut x), with a 1×1
/// convolution + batch norm shortcut when the shape changes.
public final class BasicBlock: Module, @unchecked Sendable {
    public let c1: Conv2d, b1: BatchNorm2d, c2: Conv2d, b2: BatchNorm2d
    public let short: Sequential?

    public init(_ inChannels: Int, _ outChannels: Int, stride: Int, generator: inout SeededGenerator) {
        c1 = Conv2d(inChannels, outChannels, kernel: 3, stride: stride, padding: 1, bias: false, generator: &generator)
        b1 = BatchNorm2d(outChannels)
        c2 = Conv2d(outChannels, outChannels, kernel: 3, stride: 1, padding: 1, bias: false, generator: &generator)
        b2 = BatchNorm2d(outChannels)
        if stride != 1 || inChannels != outChannels {
            short = Sequential([Conv2d(inChannels, outChannels, kernel: 1, stride: stride, bias: false, generator: &generator),
                                BatchNorm2d(outChannels)])
        } else {
            short = nil
        }
        super.init()
    }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        if !Autograd.isRecording && !b1.isTraining && !b2.isTraining {
            // Inference: three (or two) folded convolutions; the residual add and the final
            // ReLU run inside the second one (oneDNN sum and ReLU post-operations).
            let y = c1.folded(x, batchNorm: b1, relu: true)
            let shortcut = short.map { runLayers($0.layers[...], x) }
            // The shortcut's output is a fresh tensor, so the second convolution may write over it.
            return c2.folded(y, batchNorm: b2, residual: shortcut ?? x, residualIsScratch: shortcut.map { $0 !== x } ?? false, relu: true)
        }
        let y = b2(c2(b1.withReLU(c1(x))))
        return Tensor.addReLU(y, short.map { $0(x) } ?? x)
    }

    public override var children: [(String, Module)] {
        [("c1", c1), ("b1", b1), ("c2", c2), ("b2", b2)] + (short.map { [("short", $0)] } ?? [])
    }
}
