import FuzzSupport
@testable import HoneytraceServer

/// `serve --clients` files: clients, API keys or their hashes, rate limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClients(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    _ = try? ClientRegistry.parse(fuzzInput(bytes, count))
    return 0
}

runFuzzer(fuzzClients)
