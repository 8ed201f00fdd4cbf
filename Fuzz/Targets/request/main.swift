import FuzzSupport
@testable import HoneytraceServer
import NIOCore

/// `POST /v1/predict` as the server sees it: the input's first line is the `Content-Type` value (its
/// first byte, when it is below 0x20, picks no header at all and one of a few model input shapes
/// instead), the rest is the body, decoded by the server's own code (media type, the fast JSON path,
/// `JSONDecoder`, `.npy`) for a model of that shape.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let input = fuzzInput(bytes, count)
    let shapes = [[1, 2, 2], [1, 28, 28], [3, 2, 2], [2, 1, 3]]
    var shape = shapes[0]
    let contentType: String?
    let body: ArraySlice<UInt8>
    let all = [UInt8](input)
    if let first = all.first, first < 0x20 {
        shape = shapes[Int(first) % shapes.count]
        contentType = nil
        body = all.dropFirst()
    } else if let newline = all.firstIndex(of: 0x0A) {
        contentType = String(decoding: all[..<newline], as: UTF8.self)
        body = all[(newline + 1)...]
    } else {
        contentType = String(decoding: all, as: UTF8.self)
        body = []
    }
    _ = try? PredictionBody.decode(ByteBuffer(bytes: body), contentType: contentType, inputShape: shape, maxRows: 64)
    return 0
}

runFuzzer(fuzzRequest)
