@testable import Baselines
import Datasets
import Foundation
import NeuralNet
import Prediction
import Stats
import TensorEngine
import Training
import XCTest

/// Proxies that answer from a table: image i (its first pixel is i / 1000) gets `table[proxy][i]`.
private final class ScriptedProxies: PrownProxySet {
    let table: [[Int]]
    private(set) var asked: [Int] = []
    init(_ table: [[Int]]) { self.table = table }
    var count: Int { table.count }
    func labels(proxy index: Int, images: [Float], count: Int) throws -> [Int] {
        asked.append(count)
        let size = images.count / max(count, 1)
        return (0..<count).map { table[index][Int((images[$0 * size] * 1000).rounded())] }
    }
}

/// Tiny synthetic models trained once per test process (12×12 blobs, 10 classes).
private final class PrownFixture: @unchecked Sendable {
    static let shared = PrownFixture()
    let train: ImageDataset
    let heldOut: ImageDataset
    let owner: TrainedModel
    let independent: [TrainedModel]

    private init() {
        train = SyntheticData.make(count: 400, height: 12, width: 12, seed: 1, name: "synthetic-train")
        heldOut = SyntheticData.make(count: 200, height: 12, width: 12, seed: 2, name: "synthetic-held-out").withRole(.ownerValidation)
        let data = train
        owner = PrownFixture.model(seed: 11, data: data)
        independent = (0..<4).map { PrownFixture.model(seed: 20 + UInt64($0), data: data) }
    }

    static func model(seed: UInt64, data: ImageDataset) -> TrainedModel {
        let recipe = TrainingRecipe(architecture: .fmnistCNN, epochs: 2, batchSize: 32, learningRate: 0.05, seed: seed)
        let classifier = Architecture.fmnistCNN.build(inChannels: 1, classes: 10, imageSize: 12, seed: seed)
        try! Trainer(recipe: recipe).fit(classifier, on: data, normalization: .identity)
        let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: .fmnistCNN, classes: 10, inputShape: [1, 12, 12], normalization: .identity, source: "trained", recipe: recipe))
        model.manifest.weightsSHA256 = String(repeating: String(seed % 10), count: 64)
        return model
    }

    static let settings = PrownSettings(seed: 3, proxies: 8, triggers: 10, mixesPerPair: 16, relativeNoise: 0.02, pairsPerRound: 32, maxPairs: 2_000)

    func create(seed: UInt64 = 3) throws -> PrownTriggerSet {
        var s = PrownFixture.settings
        s.seed = seed
        var creator = PrownCreator(settings: s)
        creator.measureProxyAccuracy = false
        return try creator.create(model: owner, modelName: "owner", heldOut: heldOut)
    }
}

final class PrownTests: XCTestCase {
    // MARK: filter, candidates, pairs

    private func candidate(_ pair: Int, _ mix: Int, label: Int) -> PrownCandidate {
        PrownCandidate(pair: pair, mix: mix, first: 0, second: 1, firstLabel: 0, secondLabel: 1, lambda: 0.5, label: label)
    }

    func testFilterKeepsExactlyTheCandidatesEveryProxyAgreesOn() throws {
        // Six candidates with y* = 2; proxy rows give each candidate's label per proxy.
        let candidates = [candidate(0, 0, label: 2), candidate(0, 1, label: 2), candidate(1, 0, label: 2),
                          candidate(1, 1, label: 2), candidate(2, 0, label: 2), candidate(2, 1, label: 2)]
        let table = [[2, 2, 2, 2, 3, 2],
                     [2, 3, 2, 2, 2, 2],
                     [2, 2, 2, 2, 2, 3],
                     [2, 2, 5, 2, 2, 2]]
        let images: [Float] = (0..<6).flatMap { i -> [Float] in [Float(i) / 1000, 0] }
        let proxies = ScriptedProxies(table)
        let keep = try Prown.agreement(candidates, images: images, imageSize: 2, proxies: proxies)
        XCTAssertEqual(keep, [true, false, false, true, false, false])
        // Later proxies are asked only about survivors.
        XCTAssertEqual(proxies.asked, [6, 5, 4, 3])
        // First surviving mix per pair: pair 0 → mix 0, pair 1 → mix 1, pair 2 none.
        XCTAssertEqual(Prown.firstPerPair(candidates, keep: keep), [0, 3])
        XCTAssertEqual(Prown.firstPerPair(candidates, keep: [false, true, true, true, false, false]), [1, 2])
        // Complement proxies must all answer something other than y*: candidate 0 survives them, candidate 3 does not.
        let complement = ScriptedProxies([[4, 2, 2, 4, 2, 2], [5, 2, 2, 5, 2, 2], [4, 2, 2, 2, 2, 2]])
        XCTAssertEqual(try Prown.agreement(candidates, images: images, imageSize: 2, proxies: ScriptedProxies(table), complement: complement),
                       [true, false, false, false, false, false])
        XCTAssertEqual(complement.asked, [2, 2, 2])
    }

    func testCandidateRuleNeedsALabelOutsideBothSourceClasses() {
        let base = PrownCandidate(pair: 0, mix: 0, first: 0, second: 1, firstLabel: 4, secondLabel: 7, lambda: 0.3, label: 4)
        XCTAssertFalse(base.isCandidate)
        var c = base; c.label = 7
        XCTAssertFalse(c.isCandidate)
        c.label = 2
        XCTAssertTrue(c.isCandidate)
    }

    func testPairsHaveDifferentLabelsAndNeverRepeat() {
        let labels = [0, 0, 1, 1, 2]
        var used = Set<[Int]>()
        var g = SeededGenerator(seed: 9)
        let first = Prown.drawPairs(labels: labels, count: 5, used: &used, generator: &g)
        let second = Prown.drawPairs(labels: labels, count: 100, used: &used, generator: &g)
        let all = first + second
        // 10 unordered pairs of 5 images, minus the 2 same-label ones: 8 in all, never more.
        XCTAssertEqual(all.count, 8)
        XCTAssertTrue(all.allSatisfy { labels[$0.0] != labels[$0.1] })
        XCTAssertEqual(Set(all.map { [min($0.0, $0.1), max($0.0, $0.1)] }).count, all.count)
        XCTAssertTrue(Prown.drawPairs(labels: labels, count: 3, used: &used, generator: &g).isEmpty)
    }

    // MARK: guarantee and σ

    func testGuaranteeIsTheClopperPearsonBoundOfMOfM() {
        // (0.025)^(1/64) = exp(ln 0.025 / 64) = exp(−0.0576387) = 0.943991.
        XCTAssertEqual(Prown.guarantee(agreements: 64, alpha: 0.05), 0.943991, accuracy: 1e-6)
        XCTAssertEqual(Prown.guarantee(agreements: 64, alpha: 0.05), pow(0.025, 1.0 / 64), accuracy: 1e-10)
        XCTAssertEqual(Prown.guarantee(agreements: 10, alpha: 0.1), pow(0.05, 0.1), accuracy: 1e-10)
    }

    func testSigmaGivesTheSameShareOfTheParameterNorm() {
        // σ = ρ·‖θ‖/√P: ρ 0.5, ‖θ‖ 10, P 100 → 0.5.
        XCTAssertEqual(Prown.sigma(relativeNoise: 0.5, parameterNorm: 10, parameterCount: 100), 0.5, accuracy: 1e-12)
        // The paper's share: 8e-3·√21 282 122 / 153.7 = 8e-3·4613.25 / 153.7 = 0.240117.
        XCTAssertEqual(Prown.paperRelativeNoise, 0.240117, accuracy: 1e-6)
        // Measured on a model: the perturbation's norm is ρ·‖θ‖ up to sampling error, and the weights come back bit for bit.
        let model = TrainedModel(classifier: Architecture.fmnistCNN.build(inChannels: 1, classes: 10, imageSize: 12, seed: 5),
                                 manifest: ModelManifest(architecture: .fmnistCNN, classes: 10, inputShape: [1, 12, 12], normalization: .identity,
                                                         source: "test", recipe: TrainingRecipe(architecture: .fmnistCNN, epochs: 1, batchSize: 32, learningRate: 0.05, seed: 1)))
        let (norm, count) = Prown.parameterNorm(model)
        let sigma = Prown.sigma(relativeNoise: 0.3, parameterNorm: norm, parameterCount: count)
        let before: [Float] = model.classifier.parameters.flatMap { $0.scalars }
        let proxies = PerturbedProxies(model: model, sigma: sigma, count: 2, seed: 1)
        let delta = proxies.withProxy(1) { m -> Double in
            let after: [Float] = m.classifier.parameters.flatMap { $0.scalars }
            var sum = 0.0
            for (x, y) in zip(after, before) { sum += Double(x - y) * Double(x - y) }
            return sum.squareRoot()
        }
        XCTAssertEqual(delta / norm, 0.3, accuracy: 0.01)
        XCTAssertEqual(model.classifier.parameters.flatMap { $0.scalars }, before)
    }

    // MARK: verification statistics

    func testThresholdPValueAndLeaveOneOutAgainstHandComputedValues() throws {
        // Null accuracies 0.1, 0.2, 0.3, 0.4 on 10 triggers: μ 0.25, σ = √(0.05/3) = 0.1290994,
        // threshold at p 0.05 = 0.25 + 1.6448536·0.1290994 = 0.4623497; pooled rate 10/40 = 0.25.
        let null = TriggerNullStatistics(models: (1...4).map { .init(name: "n\($0)", hits: $0, accuracy: Double($0) / 10) }, triggers: 10)
        let v = try PrownVerification.verdict(suspect: "s", hits: 6, triggers: 10, null: null, falseClaimRate: 0.05)
        XCTAssertEqual(v.threshold, 0.4623497, accuracy: 1e-6)
        XCTAssertEqual(v.nullMean, 0.25, accuracy: 1e-12)
        XCTAssertEqual(v.pooledNullRate, 0.25, accuracy: 1e-12)
        // P(X ≥ 6 | 10, 0.25) = Σ_{k=6}^{10} C(10,k)·0.25^k·0.75^(10−k) = 0.0197277.
        XCTAssertEqual(v.binomialPValue, 0.0197277, accuracy: 1e-6)
        // P(N(0.25, 0.1291) ≥ 0.6) = Q(2.7111) = 0.0033531; empirical (1 + 0) / 5.
        XCTAssertEqual(v.normalPValue, 0.0033531, accuracy: 1e-6)
        XCTAssertEqual(v.empiricalPValue, 0.2, accuracy: 1e-12)
        XCTAssertEqual(v.verdict, "stolen")
        // Leave one out: 0.4 against {0.1, 0.2, 0.3} (threshold 0.2 + 1.6449·0.1 = 0.3645) is claimed; no other is.
        XCTAssertEqual(try null.leaveOneOutFalseClaims(falseClaimRate: 0.05), ["n4"])
        XCTAssertEqual(v.nullFalseClaims, 1)
        let low = try PrownVerification.verdict(suspect: "s", hits: 4, triggers: 10, null: null, falseClaimRate: 0.05)
        XCTAssertEqual(low.verdict, "not stolen")
        XCTAssertThrowsError(try PrownVerification.verdict(suspect: "s", hits: 4, triggers: 11, null: null, falseClaimRate: 0.05))
        // In the terms every watermark shares (what `verify --json` adds as score, p_value, is_stolen).
        let e = v.evidence
        XCTAssertEqual([e.watermark, e.statistic, e.verdict], ["prown", "trigger accuracy", "stolen"])
        XCTAssertEqual(e.value, 0.6, accuracy: 1e-12)
        XCTAssertEqual(e.pValue, v.normalPValue)
        XCTAssertEqual(e.threshold, v.threshold)
        XCTAssertEqual([e.queries, e.nullModels], [10, 4])
        XCTAssertFalse(low.evidence.stolen)
    }

    // MARK: creation

    func testAttackerPoolIsRefused() {
        let f = PrownFixture.shared
        let pool = f.heldOut.withRole(.attackerPool)
        XCTAssertThrowsError(try PrownCreator(settings: PrownFixture.settings).create(model: f.owner, modelName: "owner", heldOut: pool)) { error in
            let e = error as? BaselineError
            XCTAssertEqual(e?.kind, .unusableData)
            XCTAssertTrue(e?.problem.contains("attacker") ?? false, "\(error)")
        }
    }

    func testCreationIsDeterministicForASeedAndFollowsTheRules() throws {
        let f = PrownFixture.shared
        let a = try f.create(seed: 3), c = try f.create(seed: 4)
        var b = try f.create(seed: 3)
        b.creation.seconds = a.creation.seconds  // wall time is the one field that may differ
        XCTAssertTrue(a == b, "two runs with seed 3 differ")
        XCTAssertTrue(a.pixels != c.pixels, "seeds 3 and 4 gave the same triggers")
        XCTAssertEqual(a.count, 10)
        XCTAssertEqual(a.guarantee, pow(0.025, 1.0 / 8), accuracy: 1e-10)
        // Every trigger: y* outside both source classes, one per pair, pairs never repeated, the mix reproduces the pixels,
        // the owner labels it y*.
        XCTAssertTrue(a.sources.allSatisfy(\.isCandidate))
        XCTAssertEqual(Set(a.sources.map(\.pair)).count, a.count)
        XCTAssertEqual(Set(a.sources.map { [min($0.first, $0.second), max($0.first, $0.second)] }).count, a.count)
        for (i, s) in a.sources.enumerated() {
            let x1 = f.heldOut.image(at: s.first), x2 = f.heldOut.image(at: s.second)
            let mix = zip(x1, x2).map { min(max(s.lambda * $0 + (1 - s.lambda) * $1, 0), 1) }
            XCTAssertEqual(Array(a.pixels[(i * 144)..<((i + 1) * 144)]), mix)
            XCTAssertEqual(f.heldOut.labels[s.first], s.firstLabel)
        }
        XCTAssertEqual(Prown.labels(f.owner, images: a.pixels, count: a.count), a.labels)
        // Every proxy agrees on every trigger.
        let proxies = PerturbedProxies(model: f.owner, sigma: a.settings.sigma!, count: a.settings.proxies, seed: a.settings.seed)
        for k in 0..<proxies.count { XCTAssertEqual(try proxies.labels(proxy: k, images: a.pixels, count: a.count), a.labels, "proxy \(k)") }
    }

    func testEndToEndCreateSaveLoadAndVerify() throws {
        let f = PrownFixture.shared
        var set = try f.create()
        let nulls = f.independent.enumerated().map { ModelAPI(model: $0.element, answerMode: .label, name: "null-\($0.offset)") }
        set.nullModels = try PrownVerification.nullStatistics(nulls, on: set)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("prown-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try set.save(to: path)
        let loaded = try PrownTriggerSet.load(path)
        XCTAssertEqual(loaded, set)
        let own = try PrownVerification.verify(ModelAPI(model: f.owner, answerMode: .label, name: "owner"), on: loaded)
        XCTAssertEqual(own.hits, set.count)
        XCTAssertEqual(own.nullModels, 4)
        XCTAssertEqual(own.threshold, try set.nullModels!.threshold(falseClaimRate: 0.05).threshold)
        XCTAssertEqual(own.claimed, 1.0 > own.threshold)
    }

    // MARK: file format

    private func sampleSet() -> PrownTriggerSet {
        PrownTriggerSet(settings: PrownSettings(proxies: 4, triggers: 2, sigma: 0.01),
                        model: .init(architecture: "fmnist-cnn", weightsSHA256: String(repeating: "a", count: 64), name: "m"),
                        heldOut: .init(name: "h", count: 10, sha256: String(repeating: "b", count: 64)), imageShape: [1, 2, 2], classes: 3,
                        labels: [2, 0], sources: [candidate(0, 3, label: 2), PrownCandidate(pair: 1, mix: 0, first: 2, second: 3, firstLabel: 1,
                                                                                              secondLabel: 2, lambda: 0.25, label: 0)],
                        pixels: [0, 0.25, 0.5, 1, 0.125, 0.75, 0.3, 0.9], guarantee: Prown.guarantee(agreements: 4, alpha: 0.05),
                        creation: PrownCreationStatistics(pairsDrawn: 2, mixesLabelled: 8, candidates: 3, agreedCandidates: 2, pairsWithTrigger: 2,
                                                          parameterNorm: 1, parameterCount: 4, perturbationNorm: 0.02, modelAccuracy: nil,
                                                          proxyAccuracies: nil, complementAccuracies: nil, seconds: 0),
                        nullModels: TriggerNullStatistics(models: [.init(name: "a", hits: 1, accuracy: 0.5), .init(name: "b", hits: 0, accuracy: 0)],
                                                        triggers: 2))
    }

    /// The sample's JSON as a mutable dictionary.
    private func sampleJSON() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: try sampleSet().encoded()) as! [String: Any]
    }

    private func assertMalformed(_ object: Any, mentions words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        XCTAssertThrowsError(try PrownTriggerSet.decode(data, label: "t.prown"), file: file, line: line) { error in
            let e = error as? BaselineError
            XCTAssertEqual(e?.kind, .malformedFile, file: file, line: line)
            for w in words + ["t.prown"] { XCTAssertTrue(e?.problem.contains(w) ?? false, "'\(w)' not in: \(error)", file: file, line: line) }
        }
    }

    func testFileRoundTripsExactly() throws {
        let set = sampleSet()
        XCTAssertEqual(try PrownTriggerSet.decode(try set.encoded(), label: "x"), set)
    }

    func testMalformedFilesNameTheFileAndTheField() throws {
        var j = try sampleJSON(); j.removeValue(forKey: "labels")
        try assertMalformed(j, mentions: ["field labels is missing"])
        j = try sampleJSON(); j["classes"] = "ten"
        try assertMalformed(j, mentions: ["field classes: expected an integer"])
        j = try sampleJSON(); j["labels"] = [2, 7]
        try assertMalformed(j, mentions: ["labels[1]", "7"])
        j = try sampleJSON(); j["format"] = "something-else"
        try assertMalformed(j, mentions: ["'format'"])
        j = try sampleJSON(); j["formatVersion"] = 99
        try assertMalformed(j, mentions: ["'formatVersion'", "99"])
        j = try sampleJSON(); j["pixelsSHA256"] = String(repeating: "0", count: 64)
        try assertMalformed(j, mentions: ["pixelsSHA256"])
        j = try sampleJSON(); j["pixelsFloat32Base64"] = "###"
        try assertMalformed(j, mentions: ["pixelsFloat32Base64", "base64"])
        j = try sampleJSON(); j["pixelsFloat32Base64"] = PrownTriggerSet.bytes([0, 1, 0]).base64EncodedString()
        try assertMalformed(j, mentions: ["pixelsFloat32Base64", "bytes"])
        // A pixel outside [0, 1] with a consistent checksum.
        let raw = PrownTriggerSet.bytes([0, 0.25, 0.5, 1, 0.125, 1.5, 0.3, 0.9])
        j = try sampleJSON(); j["pixelsFloat32Base64"] = raw.base64EncodedString(); j["pixelsSHA256"] = PrownTriggerSet.sha256Hex(raw)
        try assertMalformed(j, mentions: ["trigger 1", "[0, 1]"])
        j = try sampleJSON(); var settings = j["settings"] as! [String: Any]; settings["proxies"] = 0; j["settings"] = settings
        try assertMalformed(j, mentions: ["'settings'", "proxies"])
        j = try sampleJSON(); var sources = j["sources"] as! [[String: Any]]; sources[1].removeValue(forKey: "lambda"); j["sources"] = sources
        try assertMalformed(j, mentions: ["sources[1].lambda", "missing"])
        j = try sampleJSON(); var null = j["nullModels"] as! [String: Any]; var models = null["models"] as! [[String: Any]]
        models[0]["hits"] = 5; null["models"] = models; j["nullModels"] = null
        try assertMalformed(j, mentions: ["nullModels.models[0].hits"])
        XCTAssertThrowsError(try PrownTriggerSet.decode(Data("{not json".utf8), label: "t.prown")) { error in
            XCTAssertTrue("\(error)".contains("t.prown") && "\(error)".contains("JSON"), "\(error)")
        }
        XCTAssertThrowsError(try PrownTriggerSet.load("/nonexistent/t.prown")) { XCTAssertTrue("\($0)".contains("no such")) }
        XCTAssertThrowsError(try PrownTriggerSet.load(FileManager.default.temporaryDirectory.path)) { XCTAssertTrue("\($0)".contains("directory")) }
    }

    func testNullPoolListingReadsPoolJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prown-pool-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["null-00-fmnist-cnn", "null-01-resnet-8"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(name), withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: dir.appendingPathComponent(name).appendingPathComponent("model.json"))
        }
        try Data(#"[{"name":"null-00-fmnist-cnn","architecture":"fmnist-cnn","seed":1},{"name":"null-01-resnet-8","architecture":"resnet-8"}]"#.utf8)
            .write(to: dir.appendingPathComponent("pool.json"))
        XCTAssertEqual(try PrownNullPool.modelDirectories(pool: dir.path).map(\.name), ["null-00-fmnist-cnn", "null-01-resnet-8"])
        XCTAssertEqual(try PrownNullPool.modelDirectories(pool: dir.path, architectures: ["resnet-8"]).map(\.name), ["null-01-resnet-8"])
        try Data("[1]".utf8).write(to: dir.appendingPathComponent("pool.json"))
        XCTAssertThrowsError(try PrownNullPool.modelDirectories(pool: dir.path)) { XCTAssertTrue("\($0)".contains("pool.json")) }
    }
}
