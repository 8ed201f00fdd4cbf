import Experiments
import Foundation
import XCTest

/// The presets' settings against the tables committed under docs/results: `--preset fmnist` must
/// rerun exactly the grid whose table is published, or the published numbers no longer describe it.
final class PresetTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func testFashionMNISTPresetIsThePublishedTable2Grid() throws {
        let manifestURL = Self.repositoryRoot.appendingPathComponent("docs/results/fmnist-timed/manifest.json")
        let manifest = try JSONDecoder().decode(ExperimentManifest.self, from: Data(contentsOf: manifestURL))
        var preset = try ExperimentConfiguration.preset("fmnist")
        preset.victim.directory = manifest.configuration.victim.directory  // the run named its victim with --victim
        XCTAssertEqual(preset, manifest.configuration)
        XCTAssertEqual(preset.attacks.count, 10)
        XCTAssertEqual(preset.defense?.flippingPower, 1)
        XCTAssertEqual(preset.defense?.outOfDistributionGate, 0.97)
        XCTAssertEqual(preset.budget, 20_000)
        XCTAssertNoThrow(try preset.validate())
    }

    func testEveryPresetValidatesAndAnUnknownNameIsRefused() throws {
        for name in ["smoke", "smoke-heldout", "demo", "fmnist", "fmnist-quick", "heldout-fmnist-cnn-v1", "heldout-resnet-8-v3", "baselines-resnet-8-v1", "crossarch-fmnist-cnn-v2", "oracle-fmnist-cnn-v1", "datafree-fmnist-cnn-v1"] {
            XCTAssertNoThrow(try ExperimentConfiguration.preset(name).validate(), name)
        }
        XCTAssertThrowsError(try ExperimentConfiguration.preset("fmnist-full")) { error in
            XCTAssertTrue("\(error)".contains("unknown preset 'fmnist-full'"), "\(error)")
        }
        // The development seed (and vgg-mini, no null pool of its kind) are not report presets.
        for name in ["heldout-fmnist-cnn-v100", "heldout-fmnist-cnn-v0", "heldout-vgg-mini-v1", "heldout-resnet-8-vx", "baselines-resnet-8-v0"] {
            XCTAssertThrowsError(try ExperimentConfiguration.preset(name), name)
        }
    }

    /// The held-out report presets: fresh seeds, owner data only, a bounded budget, the null pool,
    /// and every kind of thief.
    func testHeldOutPresetsUseFreshSeedsAndOwnerData() throws {
        var victims: Set<UInt64> = [], keys: Set<UInt64> = []
        for arch in ["fmnist-cnn", "resnet-8"] {
            for s in ExperimentConfiguration.heldOutVictimSeeds {
                let c = try ExperimentConfiguration.preset("heldout-\(arch)-v\(s)")
                XCTAssertEqual(c.ownerData, .heldOut)
                XCTAssertEqual(c.calibrationConfidence, 0.95)
                XCTAssertEqual(c.nullPool?.count, 24)
                XCTAssertEqual(Set(c.attacks.compactMap(\.pool)), [.fashionAttacker, .mixed, .mnist5k])
                XCTAssertEqual(c.seeds, [20 + s])
                XCTAssertEqual(c.victim.architecture.rawValue, arch)
                victims.insert(c.victim.seed)
                keys.insert(c.keySeed)
                // None of the development seeds.
                XCTAssertFalse(c.seeds.contains(100) || c.victim.seed == 100 || c.keySeed == 100 || c.victim.seed == 0)
            }
        }
        XCTAssertEqual(victims.count, ExperimentConfiguration.heldOutVictimSeeds.count)
        XCTAssertEqual(keys.count, ExperimentConfiguration.heldOutVictimSeeds.count)
        // Heavy clients: no gate, the probe alone where the base reads it, no unconfident boost.
        let heavy = try XCTUnwrap(try ExperimentConfiguration.preset("heldout-fmnist-cnn-v4").heavyClient)
        XCTAssertEqual(heavy.afterQueries, 2_000)
        XCTAssertEqual(heavy.accuracyBudgetPoints, 15)
        XCTAssertNil(heavy.defense.outOfDistributionGate)
        XCTAssertEqual(heavy.defense.score, .markProbe)
        XCTAssertNil(heavy.defense.unconfidentThreshold)
        XCTAssertEqual(heavy.defense.flippingPower, 0.05)
    }

    /// The comparison preset: every column and PROWN on the held-out preset's victim, key and
    /// attack seed, so the cells they share are the same attacks.
    func testBaselinesPresetHasEveryColumnOnTheHeldOutTriple() throws {
        let c = try ExperimentConfiguration.preset("baselines-resnet-8-v2")
        let h = try ExperimentConfiguration.preset("heldout-resnet-8-v2")
        XCTAssertEqual(Set(c.defenses), Set(GridDefense.names.filter { $0 != "rounding-2" }))
        XCTAssertEqual(c.victim, h.victim)
        XCTAssertEqual(c.keySeed, h.keySeed)
        XCTAssertEqual(c.seeds, h.seeds)
        XCTAssertEqual(c.nullPool, h.nullPool)
        XCTAssertEqual(c.prown?.proxies, 64)
        XCTAssertEqual(c.prown?.triggers, 100)
        XCTAssertEqual(c.attacks.count, 13)
        XCTAssertEqual(c.attacks.filter { $0.pool == .mnist5k }.count, 10)
        // The rows it shares with the held-out preset carry the same cell identifiers.
        let shared = Set(c.attacks.map { ExperimentRunner.runID(defense: "none", row: $0, seed: c.seeds[0]) })
            .intersection(h.attacks.map { ExperimentRunner.runID(defense: "none", row: $0, seed: h.seeds[0]) })
        XCTAssertEqual(shared.count, 7)
    }

    /// The oracle presets: naive, D-DAE and oracle rows for both thieves, without and with the
    /// heavy-client switch; an oracle row refuses columns it cannot copy.
    func testOraclePresetAndWhatAnOracleRowRefuses() throws {
        let c = try ExperimentConfiguration.preset("oracle-fmnist-cnn-v1")
        XCTAssertEqual(c.attacks.map { ExperimentRunner.rowKey($0) },
                       ["mnist-5k--knockoff--naive", "mnist-5k--knockoff--d-dae", "mnist-5k--knockoff--oracle",
                        "fmnist-attacker--knockoff--naive", "fmnist-attacker--knockoff--d-dae", "fmnist-attacker--knockoff--oracle"])
        XCTAssertNil(c.heavyClient)
        XCTAssertEqual(c.defenses, ["none", "honeytrace"])
        XCTAssertEqual(c.keySeed, try ExperimentConfiguration.preset("heldout-fmnist-cnn-v1").keySeed)
        var dawn = c
        dawn.defenses = ["none", "dawn"]
        XCTAssertThrowsError(try dawn.validate()) { XCTAssertTrue("\($0)".contains("it cannot copy 'dawn'"), "\($0)") }
        // With the heavy-client switch the oracle copies both defenses; the rest is the held-out grid's.
        let heavy = try ExperimentConfiguration.preset("oracle-heavy-fmnist-cnn-v1")
        XCTAssertEqual(heavy.heavyClient, try ExperimentConfiguration.preset("heldout-fmnist-cnn-v1").heavyClient)
        XCTAssertNotNil(heavy.heavyClient)
        XCTAssertEqual(heavy.attacks, c.attacks)
        XCTAssertNoThrow(try heavy.validate())
        var perturbed = c
        perturbed.defenses = ["none", "reverse-sigmoid"]
        XCTAssertNoThrow(try perturbed.validate())
    }

    /// A manifest names the commit its binary was built from, not whatever the checkout holds now.
    func testManifestCodeVersionIsTheBuildsCommit() throws {
        let version = ExperimentManifest.codeVersion()
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", URL(fileURLWithPath: #filePath).deletingLastPathComponent().path, "rev-parse", "--short=12", "HEAD"]
        let pipe = Pipe()
        git.standardOutput = pipe
        git.standardError = FileHandle.nullDevice
        try git.run()
        let head = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        git.waitUntilExit()
        guard git.terminationStatus == 0, !head.isEmpty else { throw XCTSkip("the tests do not run from a git checkout") }
        XCTAssertTrue(version == head || version == head + "-dirty", "manifest code version \(version), checkout \(head)")
    }

    /// The data-free preset: the held-out victim, key and heavy-client defense, every data-free row
    /// at 100,000 queries.
    func testDataFreePresetHoldsTheDataFreeThievesOfTheHeldOutGrid() throws {
        let c = try ExperimentConfiguration.preset("datafree-fmnist-cnn-v1")
        let heldOut = try ExperimentConfiguration.preset("heldout-fmnist-cnn-v1")
        XCTAssertEqual(c.attacks.map { "\($0.strategy.rawValue)/\($0.variant.rawValue)" },
                       ["dfme/naive", "dfms/naive", "dfms/top-1", "disguide/naive", "disguide/top-1"])
        XCTAssertEqual(c.budget, 100_000)
        XCTAssertEqual(c.keySeed, heldOut.keySeed)
        XCTAssertEqual(c.seeds, heldOut.seeds)
        XCTAssertEqual(c.heavyClient, heldOut.heavyClient)
        XCTAssertEqual(c.defenses, ["none", "honeytrace"])
        XCTAssertNoThrow(try c.validate())
    }

    /// Cross-architecture rows: the copy's architecture is part of the cell and its label, and never
    /// the victim's in the crossarch presets.
    func testCrossArchitectureRowsNameTheCopysArchitecture() throws {
        let c = try ExperimentConfiguration.preset("crossarch-resnet-8-v1")
        XCTAssertEqual(c.attacks.count, 8)
        XCTAssertEqual(Set(c.attacks.compactMap(\.surrogate)), [.fmnistCNN, .vggMini])
        XCTAssertEqual(c.keySeed, try ExperimentConfiguration.preset("heldout-resnet-8-v1").keySeed)
        let row = ExperimentConfiguration.AttackRow(.knockoff, .top1, pool: .fashionAttacker, surrogate: .vggMini)
        XCTAssertEqual(ExperimentRunner.runID(defense: "honeytrace", row: row, seed: 21), "honeytrace--fmnist-attacker--knockoff--top-1--as-vgg-mini--s21")
        // A configuration written before the field decodes to the victim's architecture.
        let old = try JSONDecoder().decode(ExperimentConfiguration.AttackRow.self, from: Data(#"{"strategy":"knockoff","variant":"naive"}"#.utf8))
        XCTAssertNil(old.surrogate)
        var record = RunRecord(id: "x", strategy: "knockoff", variant: "naive", pool: "mnist-5k", defense: "none", seed: 0, budget: 1,
                               queriesSpent: 1, victimAccuracy: 0.9, protectedAccuracy: 0.9, extractedAccuracy: 0.5, fidelity: 0.5,
                               wsrRaw: 0, wsrExclusive: 0, wsrSpecific: 0, controlTargetRate: 0, cleanTargetRate: 0, pValueWelch: 1,
                               pValueBinomial: 1, pValueMcNemar: 1, verdict: "not stolen", verificationQueries: 1, surrogateSHA256: "", seconds: 0)
        record.victimArchitecture = "resnet-8"
        XCTAssertEqual(record.rowLabel, "KnockoffNet / naive")
        record.surrogateArchitecture = "resnet-8"
        XCTAssertEqual(record.rowLabel, "KnockoffNet / naive")
        record.surrogateArchitecture = "vgg-mini"
        XCTAssertEqual(record.rowLabel, "KnockoffNet / naive → vgg-mini")
    }
}
