import Formats
import Foundation
import PropertyBased
import Testing

/// `.npy` write → read, on random shapes and values.
@Suite struct NPYRoundTripProperties {
    static let shape = Gen.int(in: 0...5).array(of: 0...4)

    /// float32 arrays come back bit for bit (NaN payloads too), with their shape.
    @Test func float32ArraysComeBackBitForBit() async throws {
        await propertyCheck(input: Self.shape, Gen.uint32().array(of: 0...80)) { shape, bits in
            let floats = cycled(bits, shape.reduce(1, *)).map { Float(bitPattern: $0) }
            let array = try NPY.parse(try NPY.encode(floats: floats, shape: shape), label: "round trip")
            #expect(array.shape == shape)
            #expect(array.dtype == .float32)
            #expect(array.floats.map(\.bitPattern) == floats.map(\.bitPattern))
        }
    }

    /// uint8 arrays come back byte for byte, as bytes and as floats.
    @Test func uint8ArraysComeBackExactly() async throws {
        await propertyCheck(input: Self.shape, Gen.uint8().array(of: 0...80)) { shape, bytes in
            let values = cycled(bytes, shape.reduce(1, *))
            let array = try NPY.parse(try NPY.encode(uint8: values, shape: shape), label: "round trip")
            #expect(array.shape == shape)
            #expect(array.uint8 == values)
            #expect(array.floats == values.map(Float.init))
        }
    }

    /// A value count that does not fit the shape is refused by the writer, never written.
    @Test func countsThatMissTheShapeAreRefused() async {
        await propertyCheck(input: Self.shape, Gen.int(in: 1...3)) { shape, extra in
            let floats = [Float](repeating: 0.5, count: shape.reduce(1, *) + extra)
            #expect(throws: FormatError.self) { try NPY.encode(floats: floats, shape: shape) }
        }
    }
}
