import Datasets
import NeuralNet
import Training

/// Trains a reference architecture on Fashion-MNIST images (or a data-set description's, with its
/// normalisation and class names) and returns it with its manifest (recipe, data fingerprint,
/// training seconds, test accuracy): how a grid's victim and every null-pool model are made, so
/// both are recorded the same way.
enum FashionMNISTTraining {
    static func train(_ architecture: Architecture, recipe: TrainingRecipe, on train: ImageDataset, test: ImageDataset, source: String,
                      normalization: Normalization = .fashionMNIST, classNames: [String]? = FashionMNIST.classNames,
                      onProgress: ((TrainingProgress) -> Void)? = nil, onEpoch: ((EpochRecord) -> Void)? = nil) throws -> TrainedModel {
        if let problem = ModelManifest.problem(architecture: architecture, classes: train.classCount, inputShape: train.imageShape) {
            throw ExperimentError("\(train.name) does not fit \(architecture.rawValue): \(problem)")
        }
        let classifier = architecture.build(inChannels: train.channels, classes: train.classCount, imageSize: train.height, seed: recipe.seed)
        let start = Clock.now()
        try Trainer(recipe: recipe, onProgress: onProgress, onEpoch: onEpoch).fit(classifier, on: train, normalization: normalization)
        let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: architecture, classes: classifier.classes, inputShape: train.imageShape, normalization: normalization, source: source,
            recipe: recipe, data: DataFingerprint(train), classNames: classNames))
        model.manifest.metrics["train_seconds"] = Clock.now() - start
        model.manifest.metrics["test_accuracy"] = try model.evaluate(test).accuracy
        return model
    }
}
