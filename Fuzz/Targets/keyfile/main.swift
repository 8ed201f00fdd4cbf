import FuzzSupport
import Honeytrace

/// Watermark key files: safetensors with the key's metadata JSON, shapes and checksum.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyFile(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    _ = try? WatermarkKeyFile.decode(fuzzInput(bytes, count), label: "fuzz input")
    return 0
}

runFuzzer(fuzzKeyFile)
