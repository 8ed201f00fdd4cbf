import Datasets
import Foundation
import Honeytrace
import Prediction
import TensorEngine

/// An output perturbation (reverse sigmoid, rounding, top-1, Gaussian noise) on every answer
/// the server gives, after the Honeytrace defense and DAWN: the same `OutputPerturbation` the
/// grid's perturbation columns apply. Random perturbations draw from one generator per client,
/// seeded from the server's seed mixed with the client's name, so one client's traffic cannot
/// shift the noise another client gets.
final class ServedPerturbation: @unchecked Sendable {
    let perturbation: OutputPerturbation
    private let seed: UInt64
    private let lock = NSLock()
    private var generators: [String: SeededGenerator] = [:]

    /// `perturbation`'s parameters are checked with the server's configuration (`ServerConfiguration.validate`).
    init(_ perturbation: OutputPerturbation, seed: UInt64) {
        self.perturbation = perturbation
        self.seed = seed
    }

    /// `output` with every probability row perturbed for `client`; similarity and the mixed and
    /// flipped flags are the defense's, unchanged.
    func apply(_ output: DefenseOutput, client: String) -> DefenseOutput {
        let k = output.classes
        var probabilities = [Float]()
        probabilities.reserveCapacity(output.probabilities.count)
        lock.withLock {
            var generator = generators[client] ?? SeededGenerator(seed: SeedMixing.mix(seed, SeedMixing.salt(client)))
            for r in 0..<output.rows { probabilities += perturbation.apply(output.probabilities(row: r), generator: &generator) }
            if perturbation.isRandom { generators[client] = generator }
        }
        return DefenseOutput(rows: output.rows, classes: k, probabilities: probabilities, similarity: output.similarity,
                             mixed: output.mixed, flipped: output.flipped)
    }
}
