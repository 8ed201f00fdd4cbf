import Foundation
import Honeytrace
import PropertyBased
import Testing

/// Watermark key files write → read, on random keys: every part of the key comes back equal.
@Suite struct KeyFileRoundTripProperties {
    static let sizes = Gen.int(in: 1...4).array(of: 5)
    static let values = Gen.float(in: -1e6...1e6).array(of: 1...48)
    static let pixels = Gen.float(in: 0...1).array(of: 1...48)

    @Test func keysComeBackEqual() async throws {
        await propertyCheck(input: Gen.int(in: 2...6).array(of: 3), Self.sizes, Self.values, Self.pixels, Gen.uint8().array(of: 32),
                            Gen.int(in: 0...15)) { side, sizes, values, pixels, secret, parts in
            let inputShape = [side[0] - 1, side[1], side[2]]
            let (n, f, r, m) = (sizes[0], sizes[1], sizes[2], sizes[3])
            let classes = sizes[4] + 2
            let recipe: WatermarkRecipe = parts & 1 == 0 || classes < 3
                ? .whiteBlock(target: classes - 1, size: 1)
                : .composite(sourceClass: 0, otherClass: 1, target: 2)
            let withBank = parts & 2 != 0, withStd = parts & 4 != 0, withProbe = parts & 8 != 0
            let key = try WatermarkKey(
                recipe: recipe, inputShape: inputShape, classes: classes,
                images: cycled(pixels, n * inputShape.reduce(1, *)), features: cycled(values, n * f),
                referenceLogits: cycled(values.reversed(), r * classes), secret: secret,
                model: ModelBinding(architecture: "fmnist-cnn", weightsSHA256: String(repeating: "ab", count: 32)),
                featureStd: withStd ? cycled(values, f).map(abs) : nil,
                dataFeatures: withBank ? cycled(values, m * f) : nil,
                dataLabels: withBank ? (0..<m).map { $0 % classes } : nil,
                markProbe: withProbe ? MarkProbe(weights: cycled(values, f), bias: values[0]) : nil,
                creation: KeyCreation(createdAt: "2026-01-02T03:04:05Z", seed: UInt64(parts)))
            let back = try WatermarkKeyFile.decode(try WatermarkKeyFile.encode(key), label: "round trip")
            #expect(back == key)
            #expect(back.images.map(\.bitPattern) == key.images.map(\.bitPattern))
            #expect(back.secret == secret)
        }
    }
}

/// `count` values taken from `values` in turn.
private func cycled<S: Sequence>(_ values: S, _ count: Int) -> [Float] where S.Element == Float {
    let all = Array(values)
    return (0..<count).map { all[$0 % all.count] }
}
