import NeuralNet
import TensorEngine

/// A denoiser behind an API: one query is a noisy image x_t with its step t, the answer the
/// predicted noise (one denoising step, what A.1 of the Neural Honeytrace paper lets the
/// attacker see). Defenses wrap one API in another.
public protocol NoisePredictionAPI: AnyObject {
    /// Predicted noise `[N, C, H, W]` for `x` `[N, C, H, W]` at `timesteps` (one per row).
    func predictNoise(_ x: Tensor, timesteps: [Int]) throws -> Tensor
}

/// A U-Net answering in evaluation mode, without recording a graph, in batches of at most 256.
public final class UNetNoiseAPI: NoisePredictionAPI {
    public let model: NoiseUNet
    public init(model: NoiseUNet) { self.model = model }

    public func predictNoise(_ x: Tensor, timesteps: [Int]) throws -> Tensor {
        guard x.rank == 4, x.shape[0] == timesteps.count else {
            throw DiffusionError("a noise query needs [N, C, H, W] images with one step each, got \(x.shape) and \(timesteps.count) steps")
        }
        model.eval()
        return Autograd.inference {
            let n = x.shape[0], batch = 256
            if n <= batch { return model(x, timesteps: timesteps) }
            let parts = stride(from: 0, to: n, by: batch).map { start in
                model(x.slice(start..<min(n, start + batch)), timesteps: Array(timesteps[start..<min(n, start + batch)]))
            }
            return Tensor.concat(parts, axis: 0)
        }
    }
}

/// An API that counts the query rows sent through it and refuses any beyond its budget: the
/// attacker's side of the boundary, so a reported query count is what was actually asked.
public final class CountedNoiseAPI: NoisePredictionAPI {
    public let base: NoisePredictionAPI
    public let budget: Int
    public private(set) var queries = 0

    public init(_ base: NoisePredictionAPI, budget: Int) { self.base = base; self.budget = budget }

    public func predictNoise(_ x: Tensor, timesteps: [Int]) throws -> Tensor {
        guard queries + timesteps.count <= budget else {
            throw DiffusionError("query budget of \(budget) exhausted: \(queries) asked, \(timesteps.count) more requested")
        }
        queries += timesteps.count
        return try base.predictNoise(x, timesteps: timesteps)
    }
}
