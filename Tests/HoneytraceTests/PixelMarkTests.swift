import Datasets
import Honeytrace
import TensorEngine
import Training
import XCTest

/// The pixel-mark score: hand-computed distances, and the defense flipping what carries the mark.
final class PixelMarkTests: XCTestCase {
    /// 1×8×8 images, a 2 px block near the top-left corner: margin 1, so the block is rows and
    /// columns 1–2, and its 2 px ring the other 21 pixels of rows and columns 0–4.
    func testWhiteBlockDistanceByHand() throws {
        let mark = try PixelMark(recipe: .whiteBlock(size: 2, corner: .topLeft), inputShape: [1, 8, 8])
        func image(block: Float, ring: Float, elsewhere: Float = 0.9) -> [Float] {
            (0..<64).map { i in
                let (y, x) = (i / 8, i % 8)
                if (1...2).contains(y) && (1...2).contains(x) { return block }
                return y <= 4 && x <= 4 ? ring : elsewhere
            }
        }
        func distance(_ pixels: [Float]) -> Float { pixels.withUnsafeBufferPointer { mark.distance($0.baseAddress!) } }
        XCTAssertEqual(distance(image(block: 1, ring: 0)), 0, accuracy: 1e-6, "a white block on black carries the mark")
        XCTAssertEqual(distance(image(block: 0, ring: 0)), 1, accuracy: 1e-6)
        XCTAssertEqual(distance(image(block: 1, ring: 1)), 1, accuracy: 1e-6, "a white block inside a white area is no mark")
        XCTAssertEqual(distance(image(block: 0.5, ring: 0.2)), 0.7, accuracy: 1e-6)
        // Pixels beyond the ring do not count.
        XCTAssertEqual(distance(image(block: 0.5, ring: 0.2, elsewhere: 0)), 0.7, accuracy: 1e-6)
        // Stamping the block onto any dark-cornered image brings the distance to 0.
        var stamped = image(block: 0.3, ring: 0)
        stamped.withUnsafeMutableBufferPointer { WatermarkImages.stampBlock($0.baseAddress!, channels: 1, height: 8, width: 8, size: 2, corner: .topLeft) }
        XCTAssertEqual(distance(stamped), 0, accuracy: 1e-6)
        assertThrows(try PixelMark(recipe: .composite(), inputShape: [1, 8, 8]), mentioning: ["pixel-mark", "composite"])
    }

    /// A defense with the pixel-mark score: its distances are the pixel distances, it flips stamped
    /// images more than their plain originals, and a composite key is refused.
    func testDefenseUsesThePixelDistance() throws {
        let fixture = Fixture.shared
        var key = try fixture.key(recipe: .whiteBlock(size: 3, corner: .topLeft))
        key.defense.score = .pixelMark
        key.defense.offset = 1
        key.defense.confidentThreshold = nil
        key.defense.unconfidentThreshold = nil
        key.defense.flippingPower = 1
        let defense = try HoneytraceDefense(key: key)
        let plain = fixture.heldOut.subset(0..<50)
        var stamped = plain.pixels
        stamped.withUnsafeMutableBufferPointer { p in
            for i in 0..<plain.count {
                WatermarkImages.stampBlock(p.baseAddress! + i * plain.imageSize, channels: 1, height: 16, width: 16, size: 3, corner: .topLeft)
            }
        }
        let mark = try PixelMark(recipe: key.recipe, inputShape: key.inputShape)
        let out = fixture.victim.outputs(pixels: plain.pixels, count: plain.count, batchSize: 64)
        let got = defense.distances(pixels: plain.pixels, features: out.features)
        for i in 0..<plain.count {
            let want = plain.pixels.withUnsafeBufferPointer { mark.distance($0.baseAddress! + i * plain.imageSize) }
            XCTAssertEqual(got[i], want, accuracy: 1e-6, "row \(i)")
        }
        let stampedOut = fixture.victim.outputs(pixels: stamped, count: plain.count, batchSize: 64)
        let flippedStamped = try defense.defend(pixels: stamped, logits: stampedOut.logits, features: stampedOut.features).flipped.filter { $0 }.count
        let flippedPlain = try defense.defend(pixels: plain.pixels, logits: out.logits, features: out.features).flipped.filter { $0 }.count
        XCTAssertGreaterThan(flippedStamped, flippedPlain + 10, "stamped \(flippedStamped), plain \(flippedPlain)")
        var composite = try fixture.key()
        composite.defense.score = .pixelMark
        assertThrows(try HoneytraceDefense(key: composite), mentioning: ["composite"])
    }
}
