import Datasets
import NeuralNet
import Prediction
import TensorEngine
import Training

/// The D-DAE adaptive attack (docs/algorithms.md §5): the attacker trains shadow models on its own labelled
/// public data, takes their clean outputs on its query pool, perturbs them with the known
/// output perturbations (reverse sigmoid, rounding, Gaussian noise, top-1-preserving flips,
/// plus the identity), and fits a `RecoveryMLP` perturbed → clean. Every API answer then goes
/// through the network before the surrogate trains on it.
///
/// The reference D-DAE also trains a detector that decides whether a defense is present; here
/// the identity pairs in the training set play that role (an unperturbed answer should come
/// back unchanged), so one network serves both cases.
public struct DDAERecovery {
    public struct Settings: Codable, Sendable, Equatable {
        /// Number of shadow models (each from its own seed).
        public var shadowCount: Int
        /// Training epochs per shadow model ("small epochs").
        public var shadowEpochs: Int
        /// Shadow architecture; nil = the surrogate's.
        public var shadowArchitecture: Architecture?
        /// The labelled data the shadows train on (docs/algorithms.md §5: MNIST-5k with its own labels).
        public var shadowData: PoolKind
        /// Pool images whose shadow outputs form the clean rows, per shadow.
        public var outputsPerShadow: Int
        /// Perturbations applied to the clean rows.
        public var perturbations: [OutputPerturbation]
        /// Fraction of clean rows held out to measure the recovery.
        public var heldOutFraction: Double
        public var recovery: RecoveryMLP.Training

        public init(shadowCount: Int = 2, shadowEpochs: Int = 2, shadowArchitecture: Architecture? = nil,
                    shadowData: PoolKind = .mnist5k, outputsPerShadow: Int = 5_000,
                    perturbations: [OutputPerturbation] = OutputPerturbation.dDAEDefaults, heldOutFraction: Double = 0.1,
                    recovery: RecoveryMLP.Training = RecoveryMLP.Training()) {
            self.shadowCount = shadowCount
            self.shadowEpochs = shadowEpochs
            self.shadowArchitecture = shadowArchitecture
            self.shadowData = shadowData
            self.outputsPerShadow = outputsPerShadow
            self.perturbations = perturbations
            self.heldOutFraction = heldOutFraction
            self.recovery = recovery
        }

        public func validate() throws {
            guard shadowCount >= 1, shadowEpochs >= 1, outputsPerShadow >= 2 else {
                throw ExtractionError(.invalidConfiguration,
                                      "D-DAE needs ≥ 1 shadow model, ≥ 1 shadow epoch and ≥ 2 outputs per shadow; found \(shadowCount), \(shadowEpochs), \(outputsPerShadow)")
            }
            guard !perturbations.isEmpty else { throw ExtractionError(.invalidConfiguration, "D-DAE needs at least one perturbation") }
            guard heldOutFraction >= 0, heldOutFraction < 1 else {
                throw ExtractionError(.invalidConfiguration, "D-DAE held-out fraction must lie in [0, 1), found \(heldOutFraction)")
            }
            for p in perturbations { try p.validate() }
            try recovery.validate()
        }

        private enum CodingKeys: String, CodingKey {
            case shadowCount, shadowEpochs, shadowArchitecture, shadowData, outputsPerShadow, perturbations, heldOutFraction, recovery
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Settings()
            self.init(shadowCount: try c.decodeIfPresent(Int.self, forKey: .shadowCount) ?? d.shadowCount,
                      shadowEpochs: try c.decodeIfPresent(Int.self, forKey: .shadowEpochs) ?? d.shadowEpochs,
                      shadowArchitecture: try c.decodeIfPresent(Architecture.self, forKey: .shadowArchitecture),
                      shadowData: try c.decodeIfPresent(PoolKind.self, forKey: .shadowData) ?? d.shadowData,
                      outputsPerShadow: try c.decodeIfPresent(Int.self, forKey: .outputsPerShadow) ?? d.outputsPerShadow,
                      perturbations: try c.decodeIfPresent([OutputPerturbation].self, forKey: .perturbations) ?? d.perturbations,
                      heldOutFraction: try c.decodeIfPresent(Double.self, forKey: .heldOutFraction) ?? d.heldOutFraction,
                      recovery: try c.decodeIfPresent(RecoveryMLP.Training.self, forKey: .recovery) ?? d.recovery)
        }
    }

    public let network: RecoveryMLP
    /// Mean L1 between held-out perturbed rows and their clean rows (before recovery).
    public let heldOutL1Before: Double
    /// Mean L1 between recovered held-out rows and their clean rows.
    public let heldOutL1After: Double
    /// Accuracy of each shadow model on its own training data (a sanity figure).
    public let shadowTrainAccuracy: [Double]

    /// Trains the shadows and the recovery network.
    ///
    /// - Parameters:
    ///   - shadowData: labelled images the shadows learn from.
    ///   - queryPool: images whose shadow outputs are the clean rows (the attacker's pool).
    ///   - recipe: how the attacker trains models (its surrogate recipe): the shadows use its
    ///     optimiser, batch size, augmentation and normalisation, with `shadowEpochs` epochs of
    ///     cross-entropy on the shadow data's labels.
    ///   - architecture: the shadows' architecture unless `settings.shadowArchitecture` is set.
    ///   - shadowDefense: the oracle attack's copy of the deployed defense: when given, the perturbed
    ///     rows are each shadow's answers behind it on the same images, in place of `settings.perturbations`.
    public static func build(settings: Settings, shadowData: ImageDataset, queryPool: ImageDataset, classes: Int,
                             recipe surrogateRecipe: SurrogateRecipe, architecture: Architecture, seed: UInt64,
                             shadowDefense: ShadowDefense? = nil, progress: ((String) -> Void)? = nil) throws -> DDAERecovery {
        try settings.validate()
        guard shadowData.imageShape == queryPool.imageShape else {
            throw ExtractionError(.invalidConfiguration, "D-DAE shadow data has images \(shadowData.imageShape), the pool \(queryPool.imageShape)")
        }
        guard shadowData.classCount <= classes else {
            throw ExtractionError(.invalidConfiguration, "D-DAE shadow data has \(shadowData.classCount) classes, the API \(classes)")
        }
        let shape = queryPool.imageShape
        var clean: [[Float]] = []
        /// The defended shadows' answers on the clean rows' images (oracle only).
        var defended: [[Float]] = []
        var accuracies: [Double] = []
        for s in 0..<settings.shadowCount {
            let shadowSeed = SeedMixing.mix(seed, 0x7368_6164, UInt64(s))  // "shad"
            progress?("training shadow model \(s + 1)/\(settings.shadowCount)")
            let normalization = surrogateRecipe.normalization
            let recipe = surrogateRecipe.trainingRecipe(architecture: settings.shadowArchitecture ?? architecture,
                                                        epochs: settings.shadowEpochs, seed: shadowSeed)
            let classifier = recipe.architecture.build(inChannels: shape[0], classes: classes, imageSize: shape[1], seed: shadowSeed)
            do {
                try Trainer(recipe: recipe).fit(classifier, on: shadowData, normalization: normalization)
            } catch let e as TrainingError {
                throw ExtractionError(.invalidConfiguration, "D-DAE shadow training: \(e.problem)")
            }
            let shadow = TrainedModel(classifier: classifier, manifest: ModelManifest(
                architecture: recipe.architecture, classes: classes, inputShape: shape, normalization: normalization,
                source: "d-dae shadow", recipe: recipe))
            accuracies.append(try shadow.evaluate(shadowData).accuracy)
            // Clean rows: the shadow's softmax on a seeded sample of the pool.
            var g = SeededGenerator(seed: SeedMixing.mix(shadowSeed, 1))
            var order = Array(0..<queryPool.count)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, g.nextInt(below: i + 1)) }
            let take = Array(order.prefix(min(settings.outputsPerShadow, queryPool.count)))
            let oracle = try shadowDefense?(shadow, SeedMixing.mix(shadowSeed, 0x6F72_6163))  // "orac"
            if oracle != nil { progress?("answering through shadow model \(s + 1)'s copy of the defense") }
            for start in stride(from: 0, to: take.count, by: 256) {
                let images = queryPool.batchTensor(Array(take[start..<min(start + 256, take.count)])).images
                clean += ModelAPI.probabilityRows(shadow, images)
                if let oracle { defended += try oracle.answer(images) }
            }
        }
        // Shuffle the rows, hold some out, pair each with its defended answer (oracle) or with every
        // perturbation of it.
        var g = SeededGenerator(seed: SeedMixing.mix(seed, 0x7061_6972))  // "pair"
        for i in stride(from: clean.count - 1, to: 0, by: -1) {
            let j = g.nextInt(below: i + 1)
            clean.swapAt(i, j)
            if !defended.isEmpty { defended.swapAt(i, j) }
        }
        let heldOut = Int(Double(clean.count) * settings.heldOutFraction)
        guard clean.count - heldOut >= 2 else {
            throw ExtractionError(.missingData, "D-DAE has \(clean.count) clean rows, too few to train on")
        }
        func pairs(_ range: Range<Int>) -> (perturbed: [[Float]], clean: [[Float]]) {
            if !defended.isEmpty { return (Array(defended[range]), Array(clean[range])) }
            var p: [[Float]] = [], c: [[Float]] = []
            for row in clean[range] {
                for perturbation in settings.perturbations {
                    p.append(perturbation.apply(row, generator: &g))
                    c.append(row)
                }
            }
            return (p, c)
        }
        let test = pairs(0..<heldOut)
        let train = pairs(heldOut..<clean.count)
        progress?("training the recovery network on \(train.clean.count) pairs")
        let network = RecoveryMLP(classes: classes, seed: SeedMixing.mix(seed, 0x6D6C_70))  // "mlp"
        try network.fit(perturbed: train.perturbed, clean: train.clean, training: settings.recovery,
                        seed: SeedMixing.mix(seed, 0x6669_74))  // "fit"
        var before = 0.0, after = 0.0
        if !test.clean.isEmpty {
            let recovered = network.recover(test.perturbed)
            for i in test.clean.indices {
                before += Double(ProbabilityRow.l1(test.perturbed[i], test.clean[i]))
                after += Double(ProbabilityRow.l1(recovered[i], test.clean[i]))
            }
            before /= Double(test.clean.count)
            after /= Double(test.clean.count)
        }
        return DDAERecovery(network: network, heldOutL1Before: before, heldOutL1After: after, shadowTrainAccuracy: accuracies)
    }

    /// The recovered rows of API answers.
    public func recover(_ rows: [[Float]]) -> [[Float]] { network.recover(rows) }
}
