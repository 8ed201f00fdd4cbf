import Datasets
import Honeytrace
import Training

extension ExperimentConfiguration {
    /// A Neural Honeytrace key for `model` as this grid makes one: its recipe, size and defense
    /// settings, a secret derived from `seed`, watermarks built from `data`; d held at `fixedOffset`,
    /// or calibrated to the accuracy budget on `data` and `outliers()` (the calibration is then
    /// returned too). The owner's key and the oracle attacker's copy of it come from this one recipe.
    func makeKey(model: TrainedModel, data: ImageDataset, outliers: () throws -> ImageDataset?, seed: UInt64) throws
        -> (key: WatermarkKey, calibration: CalibrationResult?) {
        var options = WatermarkKey.CreationOptions()
        options.count = keySize
        options.secret = .derivedFromSeed
        var key = try WatermarkKey.create(model: model, heldOut: data, recipe: recipe ?? .composite(), defense: defense ?? DefenseConfiguration(),
                                          options: options, seed: seed)
        if let d = fixedOffset {
            key.defense.offset = d
            return (key, nil)
        }
        let calibration = try Calibration.calibrate(key: key, model: model, inDistribution: data, outOfDistribution: try outliers(),
                                                    options: Calibration.Options(budgetPoints: accuracyBudgetPoints, confidence: calibrationConfidence))
        key.defense = calibration.configuration
        return (key, calibration)
    }
}
