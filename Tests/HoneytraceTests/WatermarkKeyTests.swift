import Datasets
import Foundation
import Honeytrace
import TensorEngine
import Training
import XCTest

final class WatermarkKeyTests: XCTestCase {
    let fixture = Fixture.shared

    func testCreatedKeyHoldsCompositesTheirFeaturesAndReferenceLogits() throws {
        let key = try fixture.key()
        XCTAssertEqual(key.count, 20)
        XCTAssertEqual(key.inputShape, [1, 16, 16])
        XCTAssertEqual(key.featureWidth, 128)
        XCTAssertEqual(key.secret.count, 32)
        XCTAssertEqual(key.creation.secretSource, "derived-from-seed")
        let held = fixture.heldOut, size = 256
        let coats = held.indices(ofClass: 4).map { held.image(at: $0) }, shirts = held.indices(ofClass: 6).map { held.image(at: $0) }
        func inQuadrant(_ p: Int) -> Bool { p / 16 >= 8 && p % 16 >= 8 }
        for i in 0..<key.count {
            let img = Array(key.images[(i * size)..<((i + 1) * size)])
            XCTAssertTrue(coats.contains { c in (0..<size).allSatisfy { inQuadrant($0) || c[$0] == img[$0] } }, "watermark \(i) has no class-4 base")
            XCTAssertTrue(shirts.contains { s in (0..<size).allSatisfy { !inQuadrant($0) || s[$0] == img[$0] } }, "watermark \(i) has no class-6 quadrant")
        }
        // Cached features are the model's.
        let x = Tensor(key.images, shape: [key.count, 1, 16, 16])
        let f = fixture.victim.forward(pixels: x).features.scalars
        for (a, b) in zip(f, key.features) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        // Reference logits: the model's on target-class images it classifies as the target.
        let rows = key.referenceCount
        XCTAssertGreaterThan(rows, 0)
        for r in 0..<rows {
            let row = Array(key.referenceLogits[(r * 10)..<((r + 1) * 10)])
            XCTAssertEqual(row.firstIndex(of: row.max()!), 9)
        }
        XCTAssertEqual(key.featureStd?.count, 128)
        XCTAssertEqual(key.dataCount, 64)
        // Same seed, same key (up to the creation time stamp).
        var again = try fixture.key()
        again.creation.createdAt = key.creation.createdAt
        XCTAssertEqual(again, key)
        XCTAssertNotEqual(try fixture.key(seed: 6).images, key.images)
    }

    func testOtherRecipesMakeKeys() throws {
        let block = try fixture.key(recipe: .whiteBlock())
        XCTAssertEqual(block.recipe.kind, .whiteBlock)
        let logo = try fixture.key(recipe: .logo())
        XCTAssertNotNil(logo.recipe.logo)
        let dir = try scratchDirectory(self)
        try logo.save(to: dir + "/logo.key")
        XCTAssertEqual(try WatermarkKey.load(dir + "/logo.key"), logo)
        // Data without the recipe's classes is refused clearly.
        let noTarget = fixture.heldOut.filtered(classes: Set(0..<9))
        assertThrows(try WatermarkKey.create(model: fixture.victim, heldOut: noTarget, seed: 1), mentioning: ["target class 9"])
        let wrongShape = SyntheticData.make(count: 50, height: 28, width: 28)
        assertThrows(try WatermarkKey.create(model: fixture.victim, heldOut: wrongShape, seed: 1), mentioning: ["[1, 28, 28]", "[1, 16, 16]"])
        // A count from an option that no memory holds (--count 1e12) is refused before allocating.
        var huge = WatermarkKey.CreationOptions()
        huge.count = 1_000_000_000_000
        assertThrows(try WatermarkKey.create(model: fixture.victim, heldOut: fixture.heldOut, options: huge, seed: 1),
                     mentioning: ["1000000000000 watermarks", "[1, 16, 16]", "ask for fewer"])
    }

    func testRoundTripKeepsEverythingAndIsOwnerOnly() throws {
        let key = try fixture.key()
        let path = try scratchDirectory(self) + "/victim.key"
        try key.save(to: path)
        let loaded = try WatermarkKey.load(path)
        XCTAssertEqual(loaded, key)
        XCTAssertEqual(loaded.images, key.images)
        XCTAssertEqual(loaded.features, key.features)
        XCTAssertEqual(loaded.referenceLogits, key.referenceLogits)
        XCTAssertEqual(loaded.secret, key.secret)
        XCTAssertEqual(loaded.creation, key.creation)
        XCTAssertEqual(loaded.defense, key.defense)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        // The summary never shows the secret.
        let hex = key.secret.map { String(format: "%02x", $0) }.joined()
        XCTAssertFalse(key.summary.contains { $0.1.contains(hex) })
    }

    /// The heavy-client policy travels in the key: absent keys stay as they were, a set one comes
    /// back equal and shows in the summary, and a negative threshold is refused by name.
    func testHeavyClientPolicyRoundTripsAndIsChecked() throws {
        var key = try fixture.key()
        let dir = try scratchDirectory(self)
        try key.save(to: dir + "/plain.key")
        XCTAssertNil(try WatermarkKey.load(dir + "/plain.key").heavyClient)
        XCTAssertFalse(String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir + "/plain.key")), as: UTF8.self).contains("heavy_client"))
        key.heavyClient = HeavyClientPolicy(afterQueries: 2_000, defense: HeavyClientPolicy.recommendedDefense(from: key.defense), union: true)
        try key.save(to: dir + "/heavy.key")
        let loaded = try WatermarkKey.load(dir + "/heavy.key")
        XCTAssertEqual(loaded.heavyClient, key.heavyClient)
        XCTAssertEqual(loaded.heavyClient?.defense.flippingPower, 0.05)
        XCTAssertNil(loaded.heavyClient?.defense.outOfDistributionGate)
        XCTAssertTrue(loaded.summary.contains { $0.0 == "heavy clients" && $0.1.contains("after 2000 queries") })
        let good = try Data(contentsOf: URL(fileURLWithPath: dir + "/heavy.key"))
        let negative = rewriteHeader(good) { $0.replacingOccurrences(of: "\\\"after_queries\\\":2000", with: "\\\"after_queries\\\":-5") }
        XCTAssertNotEqual(negative, good)
        try negative.write(to: URL(fileURLWithPath: dir + "/negative.key"))
        assertThrows(try WatermarkKey.load(dir + "/negative.key"), mentioning: ["negative.key", "after_queries", "-5"])
    }

    /// `watermark inspect --json` turns the summary's labels into JSON keys: a repeated label
    /// (the composite recipe's "classes") stopped the process.
    func testSummaryLabelsAreUniqueForEveryRecipe() throws {
        for recipe in [WatermarkRecipe.composite(), .whiteBlock(), .logo()] {
            let labels = try fixture.key(recipe: recipe, count: 5).summary.map(\.0)
            XCTAssertEqual(Set(labels).count, labels.count, "\(recipe.kind.rawValue): \(labels)")
        }
    }

    /// Rewrites the safetensors JSON header of a key file (re-padding it).
    func rewriteHeader(_ data: Data, _ transform: (String) -> String) -> Data {
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = String(decoding: data[8..<(8 + length)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        var bytes = Array(transform(header).utf8)
        while bytes.count % 8 != 0 { bytes.append(UInt8(ascii: " ")) }
        var out = Data((0..<8).map { UInt8((bytes.count >> (8 * $0)) & 0xFF) })
        out.append(contentsOf: bytes)
        out.append(data[(8 + length)...])
        return out
    }

    func testDamagedKeysGiveClearErrors() throws {
        let key = try fixture.key()
        let dir = try scratchDirectory(self), path = dir + "/k.key"
        try key.save(to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        func write(_ d: Data) throws -> String {
            let p = dir + "/damaged.key"
            try d.write(to: URL(fileURLWithPath: p))
            return p
        }
        assertThrows(try WatermarkKey.load(dir + "/absent.key"), mentioning: ["absent.key", "no such key file"])
        // A flipped bit in the tensor data: caught by the checksum.
        var flipped = good
        flipped[flipped.count - 4] ^= 0x01
        assertThrows(try WatermarkKey.load(try write(flipped)), mentioning: ["damaged.key", "corrupt"])
        // Truncated.
        assertThrows(try WatermarkKey.load(try write(good.prefix(good.count / 2))), mentioning: ["damaged.key", "truncated"])
        assertThrows(try WatermarkKey.load(try write(good.prefix(5))), mentioning: ["damaged.key"])
        // Garbage.
        assertThrows(try WatermarkKey.load(try write(Data(repeating: 0x41, count: 100))), mentioning: ["damaged.key", "key file"])
        // Unknown (newer) version.
        let newer = rewriteHeader(good) { $0.replacingOccurrences(of: "\\\"format_version\\\":2", with: "\\\"format_version\\\":7") }
        assertThrows(try WatermarkKey.load(try write(newer)), mentioning: ["version 7", "newer"])
        // An edit of the metadata (here the seed in the creation record; the secret, target or
        // offset alike): caught by the metadata's own SHA-256.
        let seedField = "\\\"seed\\\":\(key.creation.seed)"
        XCTAssertTrue(String(decoding: good, as: UTF8.self).contains(seedField))
        let edited = rewriteHeader(good) { $0.replacingOccurrences(of: seedField, with: "\\\"seed\\\":\(key.creation.seed + 1)") }
        assertThrows(try WatermarkKey.load(try write(edited)), mentioning: ["damaged.key", "metadata was changed or damaged"])
        // The digest entry removed: refused by name.
        let undigested = rewriteHeader(good) { $0.replacingOccurrences(of: "\"honeytrace_key_sha256\":", with: "\"honeytrace_key_sha25x\":") }
        assertThrows(try WatermarkKey.load(try write(undigested)), mentioning: ["no 'honeytrace_key_sha256' entry"])
        // Missing tensor.
        let missing = rewriteHeader(good) { $0.replacingOccurrences(of: "\"features\":", with: "\"featurex\":") }
        assertThrows(try WatermarkKey.load(try write(missing)), mentioning: ["missing tensor 'features'"])
        // Shape mismatch (same element count, so the safetensors layer accepts it).
        let reshaped = rewriteHeader(good) { $0.replacingOccurrences(of: "\"shape\":[20,128]", with: "\"shape\":[40,64]") }
        assertThrows(try WatermarkKey.load(try write(reshaped)), mentioning: ["'features'", "[40, 64]", "[20, 128]"])
        // Not a key at all: model weights.
        let modelDir = dir + "/model"
        try ModelDirectory.save(Fixture.trainModel(on: fixture.train.subset(0..<64), seed: 99), to: modelDir)
        assertThrows(try WatermarkKey.load(modelDir + "/model.safetensors"), mentioning: ["not a Honeytrace watermark key"])
    }

    /// A secret anyone can recompute from the seed is recognised by its record and by its value.
    func testSeedDerivedSecretsAreRecognised() throws {
        var key = try fixture.key()
        XCTAssertTrue(key.isSecretDerivedFromSeed)
        XCTAssertEqual(key.secret, WatermarkKey.seedDerivedSecret(key.creation.seed))
        key.creation.secretSource = "given"
        XCTAssertTrue(key.isSecretDerivedFromSeed, "the value gives it away whatever the record says")
        key.creation.seed += 1
        XCTAssertFalse(key.isSecretDerivedFromSeed, "another seed's derived secret differs")
        XCTAssertNotEqual(WatermarkKey.seedDerivedSecret(1), WatermarkKey.seedDerivedSecret(2))
    }

    func testKeyForAnotherModelIsRefusedUnlessForced() throws {
        let key = try fixture.key()
        XCTAssertNoThrow(try key.check(model: fixture.victim))
        assertThrows(try key.check(model: fixture.independent), mentioning: ["SHA-256", "force"])
        assertThrows(try DefendedModel(model: fixture.independent, key: key), mentioning: ["SHA-256"])
        XCTAssertNoThrow(try key.check(model: fixture.independent, force: true))
        XCTAssertNoThrow(try DefendedModel(model: fixture.independent, key: key, force: true))
        // Incompatible shapes are refused even when forced.
        let other = Fixture.trainModel(on: SyntheticData.make(count: 64, height: 28, width: 28), seed: 1)
        assertThrows(try key.check(model: other, force: true), mentioning: ["[1, 16, 16]", "[1, 28, 28]"])
    }

    func testModelHashEqualsTheSavedWeightsHash() throws {
        let model = Fixture.trainModel(on: fixture.train.subset(0..<64), seed: 98)
        let before = try ModelBinding(model)
        let dir = try scratchDirectory(self) + "/m"
        try ModelDirectory.save(model, to: dir)
        XCTAssertEqual(before.weightsSHA256, model.manifest.weightsSHA256)
        XCTAssertEqual(try ModelBinding(ModelDirectory.load(dir)), before)
    }
}
