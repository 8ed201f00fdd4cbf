import Datasets
import Extraction
import Foundation
import NeuralNet
import Prediction
import TensorEngine
import Training
import XCTest

/// Timing of a real attack, skipped unless `EXTRACTION_BENCH=1` (run it from a release build):
/// `EXTRACTION_BENCH_STRATEGY` (default knockoff) with `EXTRACTION_BENCH_VARIANT` (default naive)
/// on MNIST-5k against the model directory `EXTRACTION_BENCH_VICTIM` (default
/// runs/victims/fmnist-cnn-s0), `EXTRACTION_BENCH_BUDGET` queries (default 2,000) and
/// `EXTRACTION_BENCH_EPOCHS` surrogate epochs (default 1); `EXTRACTION_BENCH_CONFIG` may hold a
/// partial `AttackConfiguration` as JSON instead; `EXTRACTION_BENCH_THREADS` sets the engine's
/// threads; `EXTRACTION_BENCH_EVAL=owner-validation` measures on the owner validation split
/// train[45000..<50000] instead of the test set (for choosing settings without looking at the test
/// set). The data-free strategies (`EXTRACTION_BENCH_STRATEGY=dfme`, `dfms`, `disguide`) need no
/// pool and ignore the epochs. Also times JBDA-TR's PGD per image.
final class AttackBenchmarkTests: XCTestCase {
    func testKnockoffNetTiming() throws {
        let env = ProcessInfo.processInfo.environment
        try XCTSkipUnless(env["EXTRACTION_BENCH"] == "1", "set EXTRACTION_BENCH=1 to time a real attack")
        let victimPath = env["EXTRACTION_BENCH_VICTIM"] ?? "runs/victims/fmnist-cnn-s0"
        let budget = Int(env["EXTRACTION_BENCH_BUDGET"] ?? "") ?? 2_000
        let epochs = Int(env["EXTRACTION_BENCH_EPOCHS"] ?? "") ?? 1
        let variant = AdaptiveVariant(rawValue: env["EXTRACTION_BENCH_VARIANT"] ?? "naive") ?? .naive
        let strategy = QueryStrategy(rawValue: env["EXTRACTION_BENCH_STRATEGY"] ?? "knockoff") ?? .knockoff
        if let threads = Int(env["EXTRACTION_BENCH_THREADS"] ?? "") { Parallel.threadCount = max(1, threads) }
        let victim = try ModelDirectory.load(victimPath)
        let pools = strategy.usesPool ? try AttackPools.load([.mnist5k]) : AttackPools()
        let test = env["EXTRACTION_BENCH_EVAL"] == "owner-validation" ? try FashionMNIST.ownerValidation() : try FashionMNIST.test()
        var config = AttackConfiguration(strategy: strategy, variant: variant, pool: .mnist5k, budget: budget, seed: 1)
        if let json = env["EXTRACTION_BENCH_CONFIG"] {  // a partial AttackConfiguration
            config = try JSONDecoder().decode(AttackConfiguration.self, from: Data(json.utf8))
        }
        config.budget = budget
        config.surrogate.epochs = epochs
        var lastReport = Clock.now()
        let (_, result) = try runAttack(config, api: ModelAPI(model: victim), pools: pools, testSet: test, victim: victim) { p in
            if Clock.now() - lastReport > 60 {
                lastReport = Clock.now()
                print("BENCH progress \(p.phase.rawValue) \(p.done)/\(p.total) \(p.message)")
            }
        }
        print("BENCH measured on \(test.name)")
        print(String(format: "BENCH \(config.strategy.rawValue)/%@ budget %d epochs %d: E-Acc %.4f fidelity %.4f total %.1f s (prep %.1f, querying %.1f, training %.1f)",
                     config.variant.rawValue, budget, epochs, result.extractedAccuracy, result.fidelity ?? 0, result.seconds,
                     result.preparationSeconds, result.queryingSeconds, result.trainingSeconds))
        XCTAssertEqual(result.queriesSpent, budget)
        print("BENCH diagnostics \(result.diagnostics.sorted { $0.key < $1.key })")
        guard strategy.usesPool else { return }

        // PGD cost per image (JBDA-TR makes 3 per sample per round).
        let x = pools[.mnist5k]!.batchTensor(Array(0..<128)).images
        var g = SeededGenerator(seed: 1)
        let start = Clock.now()
        _ = TargetedPGD().perturb(x, surrogate: victim.classifier, normalization: victim.manifest.normalization,
                                  targets: .freshRandom, generator: &g)
        print(String(format: "BENCH PGD: %.2f ms per image (8 steps)", (Clock.now() - start) * 1000 / 128))
    }
}
