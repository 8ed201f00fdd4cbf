import Baselines
import Datasets
import Honeytrace
import Prediction
import TensorEngine
import Training

/// The defenses a grid's columns may name, and how each column's `Defense` is built for the
/// grid's victim. Adding a defense to the grid is one case here.
public enum GridDefense {
    /// Every column name a configuration may use: the undefended API, Neural Honeytrace, and the
    /// output perturbations as weak references (`OutputPerturbation.named`).
    /// DAWN (r_w 0.5 %, its secret derived from the grid's seed) sees the thief's queries as half of
    /// its traffic, the other half honest images. The training-time baselines (composite,
    /// mea-defender, ewe) serve a victim of their own, trained once from the victim's architecture and
    /// recipe on the owner's training split.
    public static let names = ["none", "honeytrace", "dawn"] + OutputPerturbation.named.map(\.name)
        + BaselineKind.allCases.map(\.rawValue)

    /// The training-time baseline a column names, if it is one.
    public static func baselineKind(of name: String) -> BaselineKind? { BaselineKind(rawValue: name) }

    /// The column `name` in front of `victim`; `honeytrace` is the grid's Neural Honeytrace
    /// (built once with its key and calibration); random perturbations draw from `seed` mixed
    /// with the client's name, DAWN's secret comes from `seed`, its verdicts from `nullModels`;
    /// `trainedBaseline` gives a training-time baseline's defense (trained or loaded from its cache).
    static func make(_ name: String, victim: TrainedModel, honeytrace: @autoclosure () -> NeuralHoneytrace, seed: UInt64,
                     honestTraffic: @autoclosure () -> Tensor, nullModels: [PredictionAPI], alpha: Double,
                     trainedBaseline: (BaselineKind) throws -> TrainedBaselineDefense) throws -> Defense {
        let model = ModelAPI(model: victim, name: "victim")
        if let kind = baselineKind(of: name) { return try trainedBaseline(kind) }
        switch name {
        case "none": return Undefended(model: model)
        case "honeytrace": return honeytrace()
        case "dawn":
            var generator = SeededGenerator(seed: seed)
            let secret = try DAWNSecret(bytes: (0..<32).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
            return try DAWNDefense(model: model, marker: try DAWNMarker(secret: secret), honestTraffic: honestTraffic(),
                                   nullModels: nullModels, alpha: alpha)
        default:
            guard let p = OutputPerturbation(named: name) else {
                throw ExperimentError("unknown defense '\(name)'; expected one of \(names.joined(separator: ", "))")
            }
            return try PerturbationDefense(model: model, perturbation: p, name: name, seed: seed)
        }
    }
}
