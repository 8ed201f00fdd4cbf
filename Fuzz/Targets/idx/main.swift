import Formats
import FuzzSupport

/// IDX files, plain and gzip-compressed (the inflation is bounded by the header's declared size).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    _ = try? IDX.parse(fuzzInput(bytes, count), label: "fuzz input")
    return 0
}

runFuzzer(fuzzIDX)
