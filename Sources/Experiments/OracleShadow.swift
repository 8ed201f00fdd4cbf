import Datasets
import Extraction
import Honeytrace
import Prediction
import Training

/// The oracle attacker's copy of a grid column's defense (the paper's Tab. 9): the same mechanism
/// and settings as the column, around the attacker's shadow model, keyed and calibrated by the
/// attacker on its own data; with the grid's heavy-client switch, both defenses and the switch.
/// The owner's key, secrets and data never reach it.
enum OracleShadow {
    /// The columns an oracle row may face: the mechanisms a shadow can copy without training.
    static func supports(_ column: String) -> Bool {
        column == "none" || column == "honeytrace" || OutputPerturbation(named: column) != nil
    }

    /// The shadow copy of `column` for `configuration`'s grid; `attackerData` is the thief's pool,
    /// from which its own key, calibration and outliers come.
    static func make(column: String, configuration: ExperimentConfiguration, attackerData: ImageDataset) throws -> ShadowDefense {
        if column == "none" {
            return { shadow, _ in ModelAPI(model: shadow, name: "oracle's undefended shadow") }
        }
        if let perturbation = OutputPerturbation(named: column) {
            return { shadow, seed in
                try PerturbationDefense(model: ModelAPI(model: shadow, name: "shadow"), perturbation: perturbation, name: column, seed: seed)
                    .api(client: "oracle", answerMode: .probabilities)
            }
        }
        guard column == "honeytrace" else {
            throw ExperimentError("an oracle row has no shadow copy of the '\(column)' column; it faces none, honeytrace and the output perturbations")
        }
        // The attacker's own data is the owner side of the attacker's own defense.
        let data = attackerData.withRole(nil)
        return { shadow, seed in
            let outliers = try GeneratedOutliers.make(from: data, count: 5_000, seed: seed)
            let key = try configuration.makeKey(model: shadow, data: data, outliers: { outliers }, seed: seed).key
            let honest = try DefendedModel(model: shadow, key: key)
            guard let h = configuration.heavyClient else { return honest }
            // Both defenses, the switch between them too: the heavy-client defense calibrated to its
            // own budget on the attacker's data, from the same query count on, for a fresh client.
            let heavy = try Calibration.calibrate(key: key, model: shadow, inDistribution: data, outOfDistribution: outliers,
                                                  configuration: h.defense,
                                                  options: Calibration.Options(budgetPoints: h.accuracyBudgetPoints,
                                                                               confidence: configuration.calibrationConfidence))
            let strong = try DefendedModel(model: shadow, key: key, configuration: heavy.configuration, name: "oracle's shadow (heavy client)")
            return DefendedClient(defended: honest, heavy: .init(afterQueries: h.afterQueries, defended: strong, union: h.union ?? false),
                                  name: "oracle's shadow behind both defenses")
        }
    }
}
