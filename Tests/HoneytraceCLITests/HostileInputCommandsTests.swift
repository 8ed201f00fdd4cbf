import Formats
import Foundation
import XCTest

/// Out-of-range values from options and files, each of which once stopped the process (issue 21):
/// every one is now an error naming the option or the file, the field, and what was expected.
final class HostileInputCommandsTests: CLITestCase {
    static let weights = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("NeuralNetTests/Fixtures/vgg-mini.safetensors").path

    func testImportRefusesInputShapesAndClassesOutOfRange() throws {
        let base = ["import", "--arch", "vgg-mini", "--weights", Self.weights, "--out", path("imported")]
        try CLI.fail(base + ["--input-shape", "nan,28,28"], mentioning: ["--input-shape", "nan"])
        try CLI.fail(base + ["--input-shape", "1e30,28,28"], mentioning: ["--input-shape", "1e+30"])
        try CLI.fail(base + ["--input-shape", "1,28,1e30"], mentioning: ["--input-shape", "1…1024"])
        try CLI.fail(base + ["--input-shape", "1,28.5,28"], mentioning: ["--input-shape", "28.5"])
        try CLI.fail(base + ["--classes", "1000000000000"], mentioning: ["classes", "2…100000", "1000000000000"])
        try CLI.fail(["import", "--arch", "fmnist-cnn", "--weights", Self.weights, "--out", path("x"), "--input-shape", "1,28,32"],
                     mentioning: ["fmnist-cnn", "square", "28×32"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("imported")))
    }

    /// Rewrites fields of a model directory's `model.json`; the weights and their hash stay valid.
    func editManifest(_ dir: String, _ change: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: dir + "/model.json")
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    func testBaselineOptionsOfAnotherKindAndUnknownNormalisationsAreRefused() throws {
        try CLI.fail(["baseline", "train", "--kind", "ewe", "--poison-fraction", "0.2", "--out", path("b")],
                     mentioning: ["--poison-fraction", "composite", "ewe"])
        try CLI.fail(["baseline", "train", "--kind", "composite", "--kappa", "0.1", "--out", path("b")], mentioning: ["--kappa", "ewe"])
        try CLI.fail(["baseline", "train", "--kind", "composite", "--gradient-normalization", "l2", "--out", path("b")],
                     mentioning: ["--gradient-normalization", "mea-defender"])
        try CLI.fail(["baseline", "train", "--kind", "mea-defender", "--gradient-normalization", "loss", "--out", path("b")],
                     mentioning: ["--gradient-normalization", "loss"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("b")))
    }

    func testModelFilesAndOptionsOutOfRangeAreNamed() throws {
        let good = path("model")
        _ = try CLI.succeed(["train", "--data", "synthetic", "--limit", "200", "--epochs", "1", "--seed", "1", "--out", good])
        try NPY.write(uint8: [UInt8](repeating: 7, count: 2 * 28 * 28), shape: [2, 28, 28], to: path("x.npy"))
        try NPY.write(uint8: [UInt8](repeating: 7, count: 2 * 28 * 32), shape: [2, 28, 32], to: path("wide.npy"))

        // model.json: each out-of-range field is named with what it must be and what it is.
        // Width ≠ height is asked with images of that shape, as the crash was reached.
        let cases: [(String, Any, String, [String])] = [
            ("classes", 1_000_000_000_000, "x.npy", ["classes", "2…100000", "1000000000000"]),
            ("classes", Int.max, "x.npy", ["classes", "\(Int.max)"]),
            ("inputShape", [1, 28, 4_611_686_018_427_387_904], "x.npy", ["inputShape", "1…1024", "4611686018427387904"]),
            ("inputShape", [100_000, 28, 28], "x.npy", ["inputShape", "channels", "100000"]),
            ("inputShape", [1, 28, 32], "wide.npy", ["inputShape", "square", "28×32"]),
        ]
        for (i, (field, value, input, words)) in cases.enumerated() {
            let dir = path("edited-\(i)")
            try FileManager.default.copyItem(atPath: good, toPath: dir)
            try editManifest(dir) { $0[field] = value }
            try CLI.fail(["predict", dir, "--input", path(input)], mentioning: [dir + "/model.json"] + words)
        }
        _ = try CLI.succeed(["predict", good, "--input", path("x.npy")])

        // predict --input a directory.
        try FileManager.default.createDirectory(atPath: path("images"), withIntermediateDirectories: true)
        try CLI.fail(["predict", good, "--input", path("images")], mentioning: [path("images"), "is a directory"])

        // serve: a batching wait that overflows microseconds, a clients file whose rate overflows Int.
        try CLI.fail(["serve", good, "--undefended", "--port", "0", "--no-admin", "--batch-wait-ms", "1e20"],
                     mentioning: ["--batch-wait-ms", "0…1000", "1e+20"])
        try CLI.fail(["serve", good, "--undefended", "--port", "0", "--no-admin", "--batch-wait-ms", "nan"],
                     mentioning: ["--batch-wait-ms"])
        try CLI.fail(["bench", "serve", "--seconds", "1e20"], mentioning: ["--seconds", "1e+20"])
        try CLI.fail(["bench", "serve", "--concurrency", "1,1000000000"], mentioning: ["--concurrency", "1…4096"])
        // Training data whose classes or image shape cannot size the network; a negative --limit.
        try NPY.write(uint8: [0, 1, 0, 1], shape: [4], to: path("labels4.npy"))
        try NPY.write(uint8: [UInt8](repeating: 7, count: 4 * 28 * 32), shape: [4, 28, 32], to: path("wide4.npy"))
        try CLI.fail(["train", "--data", "npy", "--train-images", path("wide4.npy"), "--train-labels", path("labels4.npy"),
                      "--out", path("t")], mentioning: [path("wide4.npy"), "fmnist-cnn", "square"])
        try CLI.fail(["train", "--data", "synthetic", "--limit=-5", "--out", path("t")], mentioning: ["--limit", "-5"])
        try CLI.fail(["train", "--data", "synthetic", "--limit", "4294967296", "--out", path("t")],
                     mentioning: ["--limit", "at most 1000000", "4294967296"])
        // A batch as large as Int.max is one batch of everything (the batch count once overflowed).
        _ = try CLI.succeed(["train", "--data", "synthetic", "--limit", "64", "--epochs", "1", "--batch", "\(Int.max)",
                             "--out", path("one-batch")])

        // Thread counts: the worker pool starts every thread it is asked for.
        try CLI.fail(["train", "--data", "synthetic", "--threads", "1000000000", "--out", path("t")],
                     mentioning: ["--threads", "at most 256", "1000000000"])
        try CLI.fail(["bench", "engine", "--threads", "1000000000"], mentioning: ["--threads", "1…256"])
        try CLI.fail(["bench", "engine", "--batch=0"], mentioning: ["--batch", "1…4096", "found 0"])
        try CLI.fail(["bench", "engine", "--batch", "4294967296"], mentioning: ["--batch", "4294967296"])
        try CLI.fail(["bench", "engine", "--steps=\(Int.min)"], mentioning: ["--steps", "\(Int.min)"])
        try CLI.fail(["experiment", "run", "--preset", "smoke", "--out", path("grid"), "--jobs", "1000000"],
                     mentioning: ["--jobs 1000000", "1…256"])
        let clients = path("clients.json")
        try Data(#"{"clients": [{"name": "a", "key": "0123456789abcdef0", "rate_limit": {"queries_per_second": 1e19}}]}"#.utf8)
            .write(to: URL(fileURLWithPath: clients))
        try CLI.fail(["serve", good, "--undefended", "--port", "0", "--no-admin", "--clients", clients,
                      "--database", path("q.sqlite")], mentioning: [clients, "queries_per_second", "1e+19"])

        // serve's abuse settings: an admin port on a public address without a token, a token file
        // others can read or too short to be a secret, per-address rates out of range.
        try CLI.fail(["serve", good, "--undefended", "--port", "0", "--admin-port", "0", "--admin-host", "0.0.0.0"],
                     mentioning: ["0.0.0.0", "not a loopback address", "--admin-token-file"])
        let token = path("admin.token")
        try Data("a-token-of-32-characters-0123456".utf8).write(to: URL(fileURLWithPath: token))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: token)
        try CLI.fail(["serve", good, "--undefended", "--port", "0", "--admin-port", "0", "--admin-token-file", token],
                     mentioning: [token, "mode 0644", "chmod 600"])
        let short = path("short.token")
        try Data("tiny".utf8).write(to: URL(fileURLWithPath: short))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: short)
        try CLI.fail(["serve", good, "--undefended", "--port", "0", "--admin-port", "0", "--admin-token-file", short],
                     mentioning: ["admin token", "16–256"])
        for rate in ["nan", "-1", "0"] {
            try CLI.fail(["serve", good, "--undefended", "--port", "0", "--no-admin", "--anonymous-requests-per-second=\(rate)"],
                         mentioning: ["--anonymous-requests-per-second", "--no-anonymous-rate-limit"])
        }
        try CLI.fail(["serve", good, "--undefended", "--port", "0", "--no-admin", "--anonymous-burst", "0"],
                     mentioning: ["--anonymous-burst", "at least 1"])
    }
}
