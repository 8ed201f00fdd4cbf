import Foundation

/// The bytes libFuzzer hands a target, as `Data` (libFuzzer may pass a null pointer for the empty input).
public func fuzzInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Data {
    guard let bytes, count > 0 else { return Data() }
    return Data(bytes: bytes, count: count)
}
