import Datasets
@testable import Experiments
import Honeytrace
import NeuralNet
import Prediction
import TensorEngine
import Training
import XCTest

/// The oracle's copy of the Neural Honeytrace column: its own key on its own data and, when the
/// grid has the heavy-client switch, both defenses with the switch at the grid's query count.
final class OracleShadowTests: XCTestCase {
    func testTheOraclesShadowCopiesTheHeavyClientSwitch() throws {
        let data = SyntheticData.make(count: 600, height: 16, width: 16, seed: 31, name: "attacker-pool")
        let recipe = TrainingRecipe(architecture: .fmnistCNN, epochs: 4, batchSize: 32, learningRate: 0.05, seed: 32)
        let classifier = Architecture.fmnistCNN.build(inChannels: 1, classes: 10, imageSize: 16, seed: 32)
        try Trainer(recipe: recipe).fit(classifier, on: data, normalization: .identity)
        let shadow = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: .fmnistCNN, classes: 10, inputShape: [1, 16, 16], normalization: .identity, source: "trained", recipe: recipe))

        var c = try ExperimentConfiguration.preset("smoke-heldout")
        c.keySize = 20
        let plain = try OracleShadow.make(column: "honeytrace", configuration: c, attackerData: data)(shadow, 7)
        XCTAssertTrue(plain is DefendedModel, "without the switch the oracle copies one defense")

        c.heavyClient = ExperimentConfiguration.heldOutHeavyClient
        c.heavyClient!.afterQueries = 100
        let api = try OracleShadow.make(column: "honeytrace", configuration: c, attackerData: data)(shadow, 7)
        let client = try XCTUnwrap(api as? DefendedClient)
        let heavy = try XCTUnwrap(client.heavy)
        XCTAssertEqual(heavy.afterQueries, 100)
        XCTAssertFalse(heavy.union)
        XCTAssertEqual(heavy.defended.defense.key.secretFingerprint, client.defended.defense.key.secretFingerprint, "one key, two settings")
        XCTAssertEqual(client.defended.defense.configuration, (plain as! DefendedModel).defense.configuration,
                       "the honest defense is the one without the switch")
        // The heavy-client settings (no gate, flipping power 0.05), d calibrated to their own budget.
        XCTAssertNil(heavy.defended.defense.configuration.outOfDistributionGate)
        XCTAssertEqual(heavy.defended.defense.configuration.flippingPower, 0.05)
        XCTAssertNotNil(client.defended.defense.configuration.outOfDistributionGate)

        // The first 100 rows get the honest defense, every row after them the heavy-client one
        // (uniform noise: the queries the defenses answer differently most often).
        var g = SeededGenerator(seed: 8)
        let x = Tensor((0..<(100 * 256)).map { _ in g.nextFloat() }, shape: [100, 1, 16, 16])
        let first = try client.answer(x), second = try client.answer(x)
        XCTAssertTrue(first == (try client.defended.answer(x)), "the first 100 rows: the honest defense's answers")
        XCTAssertTrue(second == (try heavy.defended.answer(x)), "past 100 rows: the heavy-client defense's answers")
        let changed = zip(first, second).filter { ProbabilityRow.argmax($0) != ProbabilityRow.argmax($1) }.count
        XCTAssertGreaterThan(changed, 0, "the heavy-client defense answers some of these rows with another class")
    }
}
