import Formats
import FuzzSupport

/// safetensors files: the length prefix, the JSON header and the tensors' byte ranges.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    _ = try? SafeTensors.parse(fuzzInput(bytes, count), label: "fuzz input")
    return 0
}

runFuzzer(fuzzSafeTensors)
