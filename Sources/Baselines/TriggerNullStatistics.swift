import Prediction
import Stats

/// The null models' trigger accuracies on one trigger set (PROWN's, or a trained baseline's fresh
/// triggers; docs/algorithms.md §8.5, §8b): models that never saw the API, whose accuracies fix the
/// decision threshold.
public struct TriggerNullStatistics: Codable, Sendable, Equatable {
    public struct Model: Codable, Sendable, Equatable {
        public var name: String
        /// Triggers answered y*.
        public var hits: Int
        public var accuracy: Double

        public init(name: String, hits: Int, accuracy: Double) {
            self.name = name; self.hits = hits; self.accuracy = accuracy
        }
    }

    public var models: [Model]
    /// Triggers each model was asked.
    public var triggers: Int

    public init(models: [Model], triggers: Int) {
        self.models = models
        self.triggers = triggers
    }

    /// Asks each of `models` (at least 2) once for its accuracy on the triggers.
    public static func measure(_ models: [PredictionAPI], pixels: [Float], imageShape: [Int], labels: [Int],
                               classes: Int) throws -> TriggerNullStatistics {
        guard models.count >= 2 else { throw BaselineError(.invalidConfiguration, "a null-model threshold needs at least 2 models, got \(models.count)") }
        return TriggerNullStatistics(models: try models.map { m in
            let h = try TriggerAccuracy.hits(of: m, pixels: pixels, imageShape: imageShape, labels: labels, classes: classes)
            return .init(name: m.name, hits: h, accuracy: Double(h) / Double(max(labels.count, 1)))
        }, triggers: labels.count)
    }

    /// All null hits over all null queries.
    public var pooledRate: Double {
        Double(models.reduce(0) { $0 + $1.hits }) / Double(max(models.count * triggers, 1))
    }

    /// μ + z_{1−p}·σ of the null models' trigger accuracies.
    public func threshold(falseClaimRate p: Double) throws -> NullModelThreshold {
        do { return try nullModelThreshold(nullStatistics: models.map(\.accuracy), falseClaimRate: p) } catch {
            throw BaselineError(.invalidConfiguration, "null-model threshold: \(error)")
        }
    }

    /// Null models claimed when each is verified as a suspect against a threshold fitted to the others.
    public func leaveOneOutFalseClaims(falseClaimRate p: Double) throws -> [String] {
        guard models.count >= 3 else { return [] }
        return try models.indices.compactMap { i in
            let others = TriggerNullStatistics(models: models.indices.filter { $0 != i }.map { models[$0] }, triggers: triggers)
            return try others.threshold(falseClaimRate: p).claims(models[i].accuracy) ? models[i].name : nil
        }
    }
}

