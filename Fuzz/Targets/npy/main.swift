import Formats
import FuzzSupport

/// `.npy` files and bodies: the magic, the Python-literal header and the array data.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    _ = try? NPY.parse(fuzzInput(bytes, count), label: "fuzz input")
    return 0
}

runFuzzer(fuzzNPY)
