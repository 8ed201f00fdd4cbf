import Datasets
import NeuralNet
import Training

/// Trains a reference architecture on Fashion-MNIST images and returns it with its manifest
/// (recipe, data fingerprint, training seconds, test accuracy): how a grid's victim and every
/// null-pool model are made, so both are recorded the same way.
enum FashionMNISTTraining {
    static func train(_ architecture: Architecture, recipe: TrainingRecipe, on train: ImageDataset, test: ImageDataset, source: String,
                      onProgress: ((TrainingProgress) -> Void)? = nil, onEpoch: ((EpochRecord) -> Void)? = nil) throws -> TrainedModel {
        let classifier = architecture.build(seed: recipe.seed)
        let start = Clock.now()
        try Trainer(recipe: recipe, onProgress: onProgress, onEpoch: onEpoch).fit(classifier, on: train, normalization: .fashionMNIST)
        let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: architecture, classes: 10, inputShape: [1, 28, 28], normalization: .fashionMNIST, source: source,
            recipe: recipe, data: DataFingerprint(train), classNames: FashionMNIST.classNames))
        model.manifest.metrics["train_seconds"] = Clock.now() - start
        model.manifest.metrics["test_accuracy"] = try model.evaluate(test).accuracy
        return model
    }
}
