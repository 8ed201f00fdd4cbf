import FuzzSupport
import Training

/// `model.json`, the manifest of a model directory, decoded and checked as `ModelDirectory.load` does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelJSON(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    _ = try? ModelManifest.decode(fuzzInput(bytes, count), path: "fuzz/model.json")
    return 0
}

runFuzzer(fuzzModelJSON)
