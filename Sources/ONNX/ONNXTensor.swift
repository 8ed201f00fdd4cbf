import Foundation

/// A constant of an ONNX graph (an initializer or a Constant node's value), as floats with
/// its shape; integer tensors keep their exact values in `int64s`.
struct ONNXTensor: Equatable {
    var shape: [Int]
    var floats: [Float]
    var int64s: [Int64]?

    var count: Int { floats.count }

    /// Most elements one constant may hold (1 GiB of floats).
    static let maxElements = 1 << 28

    /// Decodes FLOAT, DOUBLE, INT32 and INT64 tensors held inline (raw_data or the typed fields).
    init(_ proto: Onnx_TensorProto, problem: (String) -> ONNXError) throws {
        let label = proto.name.isEmpty ? "a tensor" : "tensor '\(proto.name)'"
        guard proto.dataLocation != .external, proto.externalData.isEmpty else {
            throw problem("\(label) keeps its data in an external file; save the model with its weights inside")
        }
        var count = 1
        for d in proto.dims {
            guard d >= 0, d <= Int64(Self.maxElements) else { throw problem("\(label) has dimension \(d)") }
            count *= Int(d)
            guard count <= Self.maxElements else { throw problem("\(label) has more than \(Self.maxElements) elements") }
        }
        let shape = proto.dims.map { Int($0) }
        var floats: [Float], int64s: [Int64]? = nil
        let raw = proto.hasRawData ? proto.rawData : nil
        func check(_ n: Int) throws {
            guard n == count else { throw problem("\(label) of shape \(shape) holds \(n) values, expected \(count)") }
        }
        switch proto.dataType {
        case 1:  // FLOAT
            if let raw {
                try check(raw.count / 4)
                guard raw.count == count * 4 else { throw problem("\(label): \(raw.count) bytes are not \(count) floats") }
                floats = raw.withUnsafeBytes { b in (0..<count).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
            } else {
                try check(proto.floatData.count)
                floats = proto.floatData
            }
        case 11:  // DOUBLE
            if let raw {
                guard raw.count == count * 8 else { throw problem("\(label): \(raw.count) bytes are not \(count) doubles") }
                floats = raw.withUnsafeBytes { b in (0..<count).map { Float(Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)))) } }
            } else {
                try check(proto.doubleData.count)
                floats = proto.doubleData.map { Float($0) }
            }
        case 7:  // INT64
            let values: [Int64]
            if let raw {
                guard raw.count == count * 8 else { throw problem("\(label): \(raw.count) bytes are not \(count) int64s") }
                values = raw.withUnsafeBytes { b in (0..<count).map { Int64(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) } }
            } else {
                try check(proto.int64Data.count)
                values = proto.int64Data
            }
            int64s = values
            floats = values.map { Float($0) }
        case 6:  // INT32
            let values: [Int64]
            if let raw {
                guard raw.count == count * 4 else { throw problem("\(label): \(raw.count) bytes are not \(count) int32s") }
                values = raw.withUnsafeBytes { b in (0..<count).map { Int64(Int32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) } }
            } else {
                try check(proto.int32Data.count)
                values = proto.int32Data.map { Int64($0) }
            }
            int64s = values
            floats = values.map { Float($0) }
        default:
            throw problem("\(label) has data type \(proto.dataType); FLOAT, DOUBLE, INT32 and INT64 are supported")
        }
        self.shape = shape
        self.floats = floats
        self.int64s = int64s
    }

    init(shape: [Int], floats: [Float]) {
        self.shape = shape
        self.floats = floats
        int64s = nil
    }

    /// A FLOAT tensor proto with little-endian raw data.
    static func proto(name: String, shape: [Int], floats: [Float]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map { Int64($0) }
        t.dataType = 1
        var data = Data(capacity: floats.count * 4)
        for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        t.rawData = data
        return t
    }

    /// An INT64 tensor proto (shapes for Reshape).
    static func proto(name: String, int64s: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = [Int64(int64s.count)]
        t.dataType = 7
        t.int64Data = int64s
        return t
    }
}
