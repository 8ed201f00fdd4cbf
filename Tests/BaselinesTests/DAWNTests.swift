@testable import Baselines
import Foundation
import Prediction
import Stats
import TensorEngine
import Training
import XCTest

/// A probability API for tests: a fixed, pixel-dependent softmax row per image, no model.
private final class StubAPI: PredictionAPI {
    let name = "stub"
    let inputShape: [Int]
    let classes: Int
    let answerMode: AnswerMode
    /// Overrides the rows (the same row for every image) when set.
    var fixedRow: [Float]?

    init(inputShape: [Int] = [1, 4, 4], classes: Int = 10, answerMode: AnswerMode = .probabilities) {
        self.inputShape = inputShape
        self.classes = classes
        self.answerMode = answerMode
    }

    func answer(_ pixels: Tensor) throws -> [[Float]] {
        let n = pixels.shape[0], size = inputShape.reduce(1, *)
        let x = pixels.scalars
        return (0..<n).map { i in
            if let fixedRow { return answerMode.shape(fixedRow) }
            let logits = (0..<classes).map { j in 3 * x[i * size + (j * 7) % size] + Float(j % 3) * 0.4 }
            let m = logits.max()!
            let e = logits.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            return answerMode.shape(e.map { $0 / s })
        }
    }
}

final class DAWNTests: XCTestCase {
    private let secret = try! DAWNSecret(bytes: (0..<32).map { UInt8($0) })
    private let otherSecret = try! DAWNSecret(bytes: (0..<32).map { UInt8(255 - $0) })

    private func marker(_ s: DAWNSecret? = nil, rate: Double = 0.005) throws -> DAWNMarker {
        try DAWNMarker(secret: s ?? secret, configuration: DAWNConfiguration(rate: rate))
    }

    /// An 8-bit image (pixels k/255) of `size` values.
    private func image(_ size: Int, _ g: inout SeededGenerator) -> [Float] {
        (0..<size).map { _ in Float(UInt8.random(in: 0...255, using: &g)) / 255 }
    }

    private func digest(_ m: DAWNMarker, _ pixels: [Float], shape: [Int] = [1, 4, 4]) -> [UInt8] {
        pixels.withUnsafeBufferPointer { m.digest(pixels: $0, shape: shape) }
    }

    /// A 1×4×4 image whose tag is a watermark under `m`.
    private func watermarkImage(_ m: DAWNMarker, seed: UInt64 = 1) -> [Float] {
        var g = SeededGenerator(seed: seed)
        while true {
            let x = image(16, &g)
            if m.isWatermark(digest: digest(m, x)) { return x }
        }
    }

    // MARK: Selection

    func testSelectionRateMatchesRwWithinBinomialBounds() throws {
        for rate in [0.005, 0.3] {
            let m = try marker(rate: rate)
            var g = SeededGenerator(seed: 11)
            let n = 20_000
            let hits = (0..<n).filter { _ in m.isWatermark(digest: digest(m, image(16, &g))) }.count
            // The threshold is on 16-bit integers: values 0 … ⌈2^16·r⌉ − 1 are watermarks.
            let p = (65536 * rate).rounded(.up) / 65536
            let b = Binomial(trials: n, probability: p)
            let lo = (0...n).last { b.lowerTail(atMost: $0) < 1e-7 } ?? 0
            let hi = (0...n).first { b.upperTail(atLeast: $0) < 1e-7 } ?? n
            XCTAssert(hits > lo && hits < hi, "r_w \(rate): \(hits) watermarks of \(n), expected in (\(lo), \(hi))")
        }
    }

    func testDecisionUsesTheFirst16BitsBigEndian() throws {
        let m = try marker(rate: 0.005)  // 2^16 · 0.005 = 327.68
        var h = [UInt8](repeating: 0xff, count: 32)
        h[0] = 1; h[1] = 71  // 327
        XCTAssertTrue(m.isWatermark(digest: h))
        h[1] = 72  // 328
        XCTAssertFalse(m.isWatermark(digest: h))
        h[0] = 72; h[1] = 1  // little-endian reading would give 328 → not a watermark either way; 0x4801 is far above
        XCTAssertFalse(m.isWatermark(digest: h))
    }

    func testSameSecretAndImageGiveTheSameDecisionAndPermutationAnotherSecretDiffers() throws {
        let m = try marker(rate: 0.3), m2 = try marker(rate: 0.3), other = try marker(otherSecret, rate: 0.3)
        let x = watermarkImage(m)
        let row: [Float] = [0.05, 0.6, 0.03, 0.02, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03]
        let a = x.withUnsafeBufferPointer { m.mark(row, pixels: $0, shape: [1, 4, 4]) }
        let b = x.withUnsafeBufferPointer { m2.mark(row, pixels: $0, shape: [1, 4, 4]) }
        XCTAssertNotNil(a)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(digest(m, x), digest(other, x))
        // Over many images the two secrets choose differently.
        var g = SeededGenerator(seed: 5)
        var disagreements = 0
        for _ in 0..<400 {
            let y = image(16, &g)
            if m.isWatermark(digest: digest(m, y)) != other.isWatermark(digest: digest(other, y)) { disagreements += 1 }
        }
        XCTAssertGreaterThan(disagreements, 100)  // independent choices at r 0.3 disagree on 42 % of images
    }

    func testTheWholeInputAndTheShapeAreHashed() throws {
        let m = try marker()
        var g = SeededGenerator(seed: 3)
        let size = 28 * 28
        let x = image(size, &g)
        var y = x
        y[size - 1] = y[size - 1] > 0.5 ? y[size - 1] - 1 / 255 : y[size - 1] + 1 / 255
        XCTAssertNotEqual(digest(m, x, shape: [1, 28, 28]), digest(m, y, shape: [1, 28, 28]), "the last pixel is part of h")
        XCTAssertNotEqual(digest(m, x, shape: [1, 28, 28]), digest(m, x, shape: [4, 14, 14]), "the shape is part of h")
    }

    func testFloatNoiseBelowHalfAGreyLevelChangesNothing() throws {
        let m = try marker(rate: 0.3)
        var g = SeededGenerator(seed: 9)
        for _ in 0..<200 {
            let x = image(16, &g)
            let noisy = x.map { min(max($0 + Float.random(in: -1e-4...1e-4, using: &g), 0), 1) }
            XCTAssertEqual(digest(m, x), digest(m, noisy))
        }
        XCTAssertEqual(DAWNMarker.quantize(Float.nan), 0)
        XCTAssertEqual(DAWNMarker.quantize(-3), 0)
        XCTAssertEqual(DAWNMarker.quantize(7), 255)
        XCTAssertEqual(DAWNMarker.quantize(0.5), 128)  // 127.5 rounds half up
    }

    // MARK: Permutation

    func testPermutedClassesAreThoseAbove0_2OrTheTop3() throws {
        let m = try marker()
        XCTAssertEqual(m.permutedClasses([0.1, 0.45, 0.05, 0.3, 0.1]), [1, 3])
        XCTAssertEqual(m.permutedClasses([0.21, 0.25, 0.22, 0.3, 0.02]), [0, 1, 2, 3])
        XCTAssertEqual(m.permutedClasses([0.05, 0.8, 0.03, 0.02, 0.1]), [0, 1, 4], "one class above 0.2: the top 3")
        XCTAssertEqual(m.permutedClasses([0.2, 0.2, 0.2, 0.2, 0.2]), [0, 1, 2], "exactly 0.2 is not above: the top 3 (lower index on ties)")
        XCTAssertEqual(m.permutedClasses([0.7, 0.3]), [0, 1])
    }

    func testPermutationChangesTheArgmaxKeepsTheMultisetAndTouchesOnlyTheSelectedClasses() throws {
        let m = try marker()
        var g = SeededGenerator(seed: 21)
        for trial in 0..<500 {
            var raw = (0..<10).map { _ in Float.random(in: 0...1, using: &g) }
            raw[trial % 10] += Float(trial % 4)  // from flat rows to one dominant class
            let row = ProbabilityRow.normalized(raw.map { $0 * $0 * $0 })
            let h = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
            guard let out = m.permuted(row, digest: h) else { return XCTFail("trial \(trial): no permutation for \(row)") }
            let selected = Set(m.permutedClasses(row))
            XCTAssertNotEqual(ProbabilityRow.argmax(out), ProbabilityRow.argmax(row), "trial \(trial)")
            XCTAssertEqual(out.sorted(), row.sorted(), "trial \(trial): the probabilities are permuted, not changed")
            for j in 0..<10 where !selected.contains(j) {
                XCTAssertEqual(out[j].bitPattern, row[j].bitPattern, "trial \(trial): class \(j) is not selected")
            }
            XCTAssertEqual(m.permuted(row, digest: h), out, "the permutation depends on h only")
        }
        // Two selected classes: the only change is the swap.
        XCTAssertEqual(m.permuted([0.1, 0.55, 0.05, 0.3], digest: [UInt8](repeating: 7, count: 32)), [0.1, 0.3, 0.05, 0.55])
        // Selected probabilities all equal: no permutation can change the top-1.
        XCTAssertNil(m.permuted([0.25, 0.25, 0.25, 0.25], digest: [UInt8](repeating: 7, count: 32)))
    }

    func testThePermutationDependsOnTheRestOfH() throws {
        let m = try marker()
        let row: [Float] = [0.3, 0.25, 0.24, 0.21]  // 4 classes above 0.2: 23 permutations move the argmax
        var g = SeededGenerator(seed: 4)
        var seen = Set<[Float]>()
        for _ in 0..<200 {
            var h = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
            h[0] = 0; h[1] = 0
            seen.insert(m.permuted(row, digest: h)!)
        }
        XCTAssertGreaterThan(seen.count, 12)
    }

    func testDigestStreamIsUniformBelowABound() {
        var s = DigestStream(seed: [1, 2, 3])
        var counts = [Int](repeating: 0, count: 3)
        for _ in 0..<30_000 { counts[s.uniform(below: 3)] += 1 }
        for c in counts { XCTAssert((9_500...10_500).contains(c), "\(counts)") }
    }

    // MARK: The API

    func testUntouchedAnswersAreBitIdenticalAndWatermarksAreLoggedPerClient() throws {
        let base = StubAPI()
        let api = try DAWNAPI(base: base, marker: try marker(rate: 0.2))
        var g = SeededGenerator(seed: 2)
        let n = 300
        let pixels = (0..<n).flatMap { _ in image(16, &g) }
        let x = Tensor(pixels, shape: [n, 1, 4, 4])
        let bare = try base.answer(x)
        let rows = try api.answer(x, client: "alice")
        var changed = 0
        for i in 0..<n {
            if rows[i] == bare[i] {
                XCTAssertEqual(rows[i].map(\.bitPattern), bare[i].map(\.bitPattern))
            } else {
                changed += 1
                XCTAssertNotEqual(ProbabilityRow.argmax(rows[i]), ProbabilityRow.argmax(bare[i]))
            }
        }
        XCTAssert((30...90).contains(changed), "\(changed) of \(n) changed at r_w 0.2")
        let log = api.log(client: "alice")
        XCTAssertEqual(log.entries.count, changed)
        XCTAssertEqual(api.counts.marked, changed)
        XCTAssertTrue(api.log(client: "bob").entries.isEmpty)
        // Each logged entry is the image and the wrong label alice received.
        for e in log.entries {
            let i = (0..<n).first { i in (0..<16).allSatisfy { DAWNMarker.quantize(pixels[i * 16 + $0]) == e.image[$0] } }!
            XCTAssertEqual(e.answeredLabel, ProbabilityRow.argmax(rows[i]))
            XCTAssertEqual(e.originalLabel, ProbabilityRow.argmax(bare[i]))
        }
        // Asking again gives the same answers and logs nothing new; bob's log is his own.
        XCTAssertEqual(try api.answer(x, client: "alice"), rows)
        XCTAssertEqual(api.log(client: "alice").entries.count, changed)
        _ = try api.answer(x.slice(0..<50), client: "bob")
        XCTAssertEqual(api.log(client: "bob").entries, log.entries.filter { e in
            (0..<50).contains { i in (0..<16).allSatisfy { DAWNMarker.quantize(pixels[i * 16 + $0]) == e.image[$0] } }
        })
        // A label-mode DAWN answers one-hot rows of the same labels.
        let labels = try DAWNAPI(base: base, marker: try marker(rate: 0.2), answerMode: .label).labels(for: x)
        XCTAssertEqual(labels, rows.map(ProbabilityRow.argmax))
        XCTAssertThrowsError(try DAWNAPI(base: StubAPI(answerMode: .label), marker: try marker()))
    }

    // MARK: Log file

    private func sampleLog() -> DAWNWatermarkLog {
        DAWNWatermarkLog(client: "alice", secretFingerprint: secret.fingerprint, modelSHA256: String(repeating: "ab", count: 32),
                         inputShape: [1, 2, 2], classes: 10, watermarkSize: 2,
                         entries: [DAWNLogEntry(image: [0, 1, 254, 255], originalLabel: 3, answeredLabel: 7, digest: String(repeating: "0f", count: 32)),
                                   DAWNLogEntry(image: [9, 9, 9, 9], originalLabel: 0, answeredLabel: 1, digest: String(repeating: "a1", count: 32)),
                                   DAWNLogEntry(image: [5, 6, 7, 8], originalLabel: 2, answeredLabel: 9, digest: String(repeating: "77", count: 32))])
    }

    private func scratch() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dawn-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func testLogRoundTripsThroughItsFile() throws {
        let path = try scratch() + "/alice.dawnlog.json"
        let log = sampleLog()
        try log.write(to: path)
        let back = try DAWNWatermarkLog.load(path)
        XCTAssertEqual(back, log)
        XCTAssertEqual(back.watermark.count, 2)
        XCTAssertEqual(back.watermarkImages().shape, [2, 1, 2, 2])
        XCTAssertEqual(back.watermarkImages().scalars[3], 1)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent).contains { $0.contains(".tmp-") })
    }

    func testMalformedLogsNameTheFileAndTheField() throws {
        let dir = try scratch()
        try sampleLog().write(to: dir + "/good.json")
        let good = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: dir + "/good.json"))) as! [String: Any]
        func variant(_ change: (inout [String: Any]) -> Void) throws -> Data {
            var object = good
            change(&object)
            return try JSONSerialization.data(withJSONObject: object)
        }
        func entry(_ change: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
            { object in
                var entries = object["entries"] as! [[String: Any]]
                change(&entries[1])
                object["entries"] = entries
            }
        }
        let cases: [(String, Data, [String])] = [
            ("not JSON", Data("{\"format\": ".utf8), ["not valid JSON"]),
            ("missing client", try variant { $0["client"] = nil }, ["field client is missing"]),
            ("wrong format", try variant { $0["format"] = "something-else" }, ["field format", "honeytrace-dawn-log"]),
            ("future version", try variant { $0["version"] = 2 }, ["field version", "found 2"]),
            ("classes as text", try variant { $0["classes"] = "ten" }, ["field classes", "an integer"]),
            ("one class", try variant { $0["classes"] = 1 }, ["field classes", "found 1"]),
            ("bad shape", try variant { $0["input_shape"] = [2, 2] }, ["field input_shape"]),
            ("missing label", try variant(entry { $0["answered_label"] = nil }), ["entries[1].answered_label is missing"]),
            ("label out of range", try variant(entry { $0["answered_label"] = 10 }), ["entries[1].answered_label", "0..<10", "found 10"]),
            ("right label", try variant(entry { $0["answered_label"] = 0 }), ["entries[1].answered_label", "equals original_label"]),
            ("bad base64", try variant(entry { $0["image"] = "***" }), ["entries[1].image", "base64"]),
            ("short image", try variant(entry { $0["image"] = Data([1, 2, 3]).base64EncodedString() }), ["entries[1].image", "expected 4 bytes", "found 3"]),
            ("bad digest", try variant(entry { $0["digest"] = "xyz" }), ["entries[1].digest", "64 hex"]),
            ("label as float", try variant(entry { $0["original_label"] = 1.5 }), ["entries[1].original_label", "found 1.5"]),
            ("label as text", try variant(entry { $0["original_label"] = "one" }), ["entries[1].original_label"]),
        ]
        for (name, data, words) in cases {
            let path = dir + "/\(name.replacingOccurrences(of: " ", with: "-")).json"
            try data.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try DAWNWatermarkLog.load(path), name) { error in
                let text = "\(error)"
                XCTAssertEqual((error as? BaselineError)?.kind, .malformedFile, name)
                XCTAssertTrue(text.contains(path), "\(name): '\(text)' does not name the file")
                for w in words { XCTAssertTrue(text.contains(w), "\(name): '\(text)' does not mention '\(w)'") }
            }
        }
        XCTAssertThrowsError(try DAWNWatermarkLog.load(dir + "/absent.json")) { XCTAssertTrue("\($0)".contains("absent.json")) }
    }

    func testSecretFileRoundTripsAndRejectsMalformedFiles() throws {
        let dir = try scratch()
        let s = DAWNSecret.generate()
        try s.save(to: dir + "/dawn.secret")
        XCTAssertEqual(try DAWNSecret.load(dir + "/dawn.secret"), s)
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/dawn.secret")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertNotEqual(s.fingerprint, otherSecret.fingerprint)
        XCTAssertEqual(s.fingerprint.count, 16)
        try Data("abc\n".utf8).write(to: URL(fileURLWithPath: dir + "/short"))
        try Data((String(repeating: "z", count: 64) + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/nothex"))
        for name in ["short", "nothex", "absent"] {
            XCTAssertThrowsError(try DAWNSecret.load(dir + "/" + name)) { XCTAssertTrue("\($0)".contains(dir + "/" + name), "\($0)") }
        }
    }

    // MARK: Verification

    func testBinomialPValueMatchesHandComputedValues() throws {
        // K = 10: chance 1/9. P(X ≥ 3 | n 10) = 1 − (8/9)^10 − 10·(1/9)(8/9)^9 − 45·(1/9)²(8/9)^8.
        let hand = 1 - pow(8.0 / 9, 10) - 10 * (1.0 / 9) * pow(8.0 / 9, 9) - 45 * pow(1.0 / 9, 2) * pow(8.0 / 9, 8)
        let r = try DAWNVerifier.decide(suspect: "s", client: "c", agreements: 3, queries: 10, classes: 10, alpha: 0.05)
        XCTAssertEqual(r.chance, 1.0 / 9, accuracy: 1e-15)
        XCTAssertEqual(r.pValue, hand, accuracy: 1e-12)
        XCTAssertEqual(hand, 0.0905965326991, accuracy: 1e-12)
        XCTAssertEqual(r.verdict, "not stolen")
        let all = try DAWNVerifier.decide(suspect: "s", client: "c", agreements: 100, queries: 100, classes: 10, alpha: 1e-4)
        XCTAssertEqual(all.pValue / pow(1.0 / 9, 100), 1, accuracy: 1e-9)
        XCTAssertEqual(all.verdict, "stolen")
        let twenty = try DAWNVerifier.decide(suspect: "s", client: "c", agreements: 20, queries: 100, classes: 10, alpha: 1e-4)
        XCTAssertEqual(twenty.pValue, 0.0065536926674367, accuracy: 1e-12)  // Σ_{i≥20} C(100,i)(1/9)^i(8/9)^(100−i)
        XCTAssertEqual(twenty.verdict, "not stolen")
        // Null models: a suspect below their threshold is not claimed whatever its p.
        let nulls = [0.3, 0.32, 0.28, 0.31].enumerated().map { DAWNVerification.NullModel(name: "n\($0.offset)", agreements: Int($0.element * 100), agreement: $0.element) }
        let blocked = try DAWNVerifier.decide(suspect: "s", client: "c", agreements: 33, queries: 100, classes: 10, alpha: 1e-4, nullModels: nulls)
        XCTAssertLessThan(blocked.pValue, 1e-4)
        XCTAssertEqual(blocked.verdict, "not stolen")
        XCTAssertNotNil(blocked.nullThreshold)
        XCTAssertEqual(blocked.nullFalseClaims, 0)
    }

    func testVerificationClaimsAModelTrainedOnTheAnswersAndNotTheBareModel() throws {
        let base = StubAPI()
        let api = try DAWNAPI(base: base, marker: try marker(rate: 0.2), answerMode: .label, defaultClient: "thief")
        var g = SeededGenerator(seed: 8)
        let n = 800
        let x = Tensor((0..<n).flatMap { _ in image(16, &g) }, shape: [n, 1, 4, 4])
        _ = try api.answer(x)
        let log = api.log(client: "thief")
        XCTAssertEqual(log.watermark.count, 100)
        // A perfect copy of the answers repeats every wrong label; the bare model none.
        let copy = try DAWNVerifier.verify(log: log, suspect: api, alpha: 1e-4, nullModels: [base, base])
        XCTAssertEqual(copy.agreements, 100)
        XCTAssertEqual(copy.verdict, "stolen")
        let bare = try DAWNVerifier.verify(log: log, suspect: base, alpha: 1e-4)
        XCTAssertEqual(bare.agreements, 0)
        XCTAssertEqual(bare.verdict, "not stolen")
        XCTAssertThrowsError(try DAWNVerifier.verify(log: log, suspect: StubAPI(classes: 5)))
        XCTAssertThrowsError(try DAWNVerifier.verify(log: api.log(client: "nobody"), suspect: base))
    }
}
