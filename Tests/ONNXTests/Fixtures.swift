import Foundation
import Formats
import ONNX
import TensorEngine
import TestSupport
import Training
import XCTest

/// The files scripts/make_onnx_fixtures.py writes, and what the tests compare with them.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let names = ["fmnist-cnn", "vgg-mini", "resnet-8"]

    static func onnx(_ name: String) -> String { directory.appendingPathComponent("\(name).onnx").path }

    /// Pixels [N, C, H, W] in [0, 1], PyTorch's logits and features for them.
    static func expected(_ name: String) throws -> (pixels: Tensor, logits: [Float], features: [Float]) {
        let file = try SafeTensors.read(path: directory.appendingPathComponent("\(name).expected.safetensors").path)
        let pixels = try XCTUnwrap(file.tensors["pixels"])
        return (Tensor(pixels.floats, shape: pixels.shape), try XCTUnwrap(file.tensors["logits"]).floats,
                try XCTUnwrap(file.tensors["features"]).floats)
    }

    /// The options each fixture is imported with: vgg-mini's graph takes standardised images.
    static func options(_ name: String) -> ONNXImportOptions {
        name == "vgg-mini" ? ONNXImportOptions(normalization: .init(mean: 0.5, std: 0.25)) : ONNXImportOptions()
    }
}

/// Largest absolute difference of two equally long arrays.
func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// Logits of a model for raw pixels, as a flat array.
func logits(_ model: TrainedModel, _ pixels: Tensor) -> [Float] { model.forward(pixels: pixels).logits.plain().scalars }

/// onnxruntime (from PyPI) run in a Python child process: the `python3` on PATH's own, or the
/// copy the test command installs into the checkout's data/python for it.
enum ONNXRuntime {
    static let env = URL(fileURLWithPath: "/usr/bin/env")
    /// The checkout's data/python (scripts/test.sh: `pip install --target data/python onnxruntime`).
    static let localPackages = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/python").path

    /// The `env` arguments that start a `python3` importing onnxruntime (with PYTHONPATH set for
    /// this child only, so no other Python the tests start sees those packages); nil when neither has it.
    static let python: [String]? = {
        for prefix in [["python3"], ["PYTHONPATH=\(localPackages)", "python3"]] {
            if let r = try? ProcessOutput.run(env, prefix + ["-c", "import onnxruntime, numpy"]), r.status == 0 { return prefix }
        }
        return nil
    }()

    /// Skips the calling test, saying why, when onnxruntime is missing; fails it instead when
    /// HONEYTRACE_REQUIRE_ONNXRUNTIME=1 (CI), so that the parity checks cannot silently stop running.
    static func require() throws {
        guard python == nil else { return }
        let why = "onnxruntime is not installed for python3 nor in \(localPackages) (scripts/test.sh installs it there)"
        if ProcessInfo.processInfo.environment["HONEYTRACE_REQUIRE_ONNXRUNTIME"] == "1" {
            XCTFail(why)
            throw XCTSkip(why)
        }
        throw XCTSkip("\(why); the onnxruntime parity checks are skipped")
    }

    /// Logits onnxruntime computes for `pixels` with the model at `path`.
    static func logits(model path: String, pixels: Tensor, scratch: URL) throws -> [Float] {
        let python = try XCTUnwrap(python)
        let input = scratch.appendingPathComponent("pixels-\(UUID().uuidString).f32")
        let data = pixels.scalars.withUnsafeBufferPointer { Data(buffer: $0) }
        try data.write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let script = """
            import sys, json, numpy as np, onnxruntime as ort
            s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
            x = np.fromfile(sys.argv[2], dtype="<f4").reshape([int(d) for d in sys.argv[3].split(",")])
            y = s.run(None, {s.get_inputs()[0].name: x})[0]
            print(json.dumps([float(v) for v in y.reshape(-1)]))
            """
        let r = try ProcessOutput.run(env, python + ["-c", script, path, input.path, pixels.shape.map(String.init).joined(separator: ",")])
        guard r.status == 0 else { throw ONNXRuntimeFailure(message: r.stderr) }
        return try JSONDecoder().decode([Float].self, from: Data(r.stdout.utf8))
    }

    struct ONNXRuntimeFailure: Error { let message: String }
}
