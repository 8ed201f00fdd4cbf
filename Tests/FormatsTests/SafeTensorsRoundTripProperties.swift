import Formats
import Foundation
import PropertyBased
import Testing

/// safetensors write → read, on random tensors: names, order, shapes, metadata and values come back.
@Suite struct SafeTensorsRoundTripProperties {
    /// Any Float, NaNs with payloads, infinities and subnormals included, by its bit pattern.
    static let anyFloat = Gen.uint32().map { Float(bitPattern: $0) }
    static let shape = Gen.int(in: 0...4).array(of: 0...3)
    static let name = Gen.letterOrNumber.string(of: 1...6)

    /// F32 values come back bit for bit and I64 values exactly, with the metadata and file order.
    @Test func f32AndI64TensorsComeBackExactly() async throws {
        await propertyCheck(input: Self.shape.array(of: 1...4), Self.anyFloat.array(of: 0...64), Gen.int64().array(of: 1...8),
                            Self.name.array(of: 0...3)) { shapes, floats, ints, words in
            var tensors: [SafeTensor] = []
            for (i, shape) in shapes.enumerated() {
                let count = shape.reduce(1, *)
                if i % 2 == 0 {
                    tensors.append(SafeTensor(name: "f\(i)", shape: shape, floats: cycled(floats, count)))
                } else {
                    tensors.append(SafeTensor(name: "i\(i)", shape: shape, int64s: cycled(ints, count)))
                }
            }
            let metadata = Dictionary(words.map { ($0, $0 + " ✓\n\"") }, uniquingKeysWith: { a, _ in a })
            let file = try SafeTensors.parse(try SafeTensors.encode(tensors, metadata: metadata), label: "round trip")
            #expect(file.metadata == metadata)
            #expect(file.orderedNames == tensors.map(\.name).sorted())
            for t in tensors {
                let back = try #require(file.tensors[t.name])
                #expect(back.shape == t.shape && back.dtype == t.dtype)
                #expect(back.floats.map(\.bitPattern) == t.floats.map(\.bitPattern) || t.dtype == .I64)
                #expect(back.int64s == t.int64s)
            }
        }
    }

    /// Integer dtypes hold their integers exactly; the narrower float dtypes round once: what is read
    /// back is written and read back unchanged.
    @Test func otherDTypesRoundTrip() async throws {
        await propertyCheck(input: Self.shape, Gen.int(in: 0...255).array(of: 1...32), Self.anyFloat.array(of: 1...32)) { shape, bytes, floats in
            let count = shape.reduce(1, *)
            let integers: [(SafeTensorsDType, [Float])] = [
                (.U8, cycled(bytes, count).map(Float.init)),
                (.BOOL, cycled(bytes, count).map { Float($0 % 2) }),
                (.I32, cycled(bytes, count).map { Float($0 - 128) * 1000 }),
            ]
            for (dtype, values) in integers {
                let t = SafeTensor(name: "x", shape: shape, dtype: dtype, floats: values)
                let back = try SafeTensors.parse(try SafeTensors.encode([t]), label: "round trip").tensors["x"]
                #expect(back == t, "\(dtype)")
            }
            for dtype in [SafeTensorsDType.F16, .BF16, .F64] {
                let once = try SafeTensors.parse(try SafeTensors.encode([SafeTensor(name: "x", shape: shape, dtype: dtype,
                                                                                    floats: cycled(floats, count))]), label: "once")
                let first = try #require(once.tensors["x"])
                let twice = try SafeTensors.parse(try SafeTensors.encode([first]), label: "twice")
                let second = try #require(twice.tensors["x"])
                #expect(second.floats.map(\.bitPattern) == first.floats.map(\.bitPattern), "\(dtype)")
                for (a, b) in zip(cycled(floats, count), first.floats) where !a.isNaN {
                    #expect(a.sign == b.sign || b == 0, "\(dtype): \(a) read back as \(b)")
                }
            }
        }
    }
}
