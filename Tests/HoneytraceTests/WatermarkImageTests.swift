import Datasets
import Foundation
import Honeytrace
import TensorEngine
import XCTest

func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
}

final class WatermarkImageTests: XCTestCase {
    func testCompositeHasExactlyTheQuadrantOfTheOtherImage() {
        var g = SeededGenerator(seed: 2)
        let (c, h, w) = (3, 32, 32)
        let a = (0..<(c * h * w)).map { _ in g.nextFloat() }, b = (0..<(c * h * w)).map { _ in g.nextFloat() }
        var out = [Float](repeating: -1, count: a.count)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in
                    WatermarkImages.composite(base: pa.baseAddress!, donor: pb.baseAddress!, into: po.baseAddress!, channels: c, height: h,
                                              width: w, region: .bottomRightQuadrant)
                }
            }
        }
        for ch in 0..<c {
            for y in 0..<h {
                for x in 0..<w {
                    let i = (ch * h + y) * w + x
                    XCTAssertEqual(out[i], y >= 16 && x >= 16 ? b[i] : a[i])
                }
            }
        }
        XCTAssertEqual(WatermarkRecipe.Region.automatic(height: 28, width: 28), .bottomRightQuadrant)
        XCTAssertEqual(WatermarkRecipe.Region.automatic(height: 64, width: 64), .bottomHalf)
    }

    func testTriggersAndControlsAreCompositesOfTheRightImages() throws {
        let data = SyntheticData.make(count: 200, height: 28, width: 28, seed: 8)
        let set = try TriggerSet.make(recipe: .composite(), heldOut: data, classes: 10, count: 30, seed: 3, augmentation: .none,
                                      excluding: [data.indices(ofClass: 4)[0]])
        XCTAssertEqual(set.count, 30)
        let size = 28 * 28
        for i in 0..<30 {
            XCTAssertEqual(data.labels[set.baseIndices[i]], 4)
            XCTAssertEqual(data.labels[set.donorIndices[i]], 6)
            XCTAssertEqual(data.labels[set.controlDonorIndices[i]], 4)
            XCTAssertNotEqual(set.controlDonorIndices[i], set.baseIndices[i])
            XCTAssertNotEqual(set.baseIndices[i], data.indices(ofClass: 4)[0], "an excluded image was used")
            let base = data.image(at: set.baseIndices[i]), donor = data.image(at: set.donorIndices[i])
            let controlDonor = data.image(at: set.controlDonorIndices[i])
            for p in 0..<size {
                let inQuadrant = p / 28 >= 14 && p % 28 >= 14
                XCTAssertEqual(set.triggers[i * size + p], inQuadrant ? donor[p] : base[p])
                XCTAssertEqual(set.controls[i * size + p], inQuadrant ? controlDonor[p] : base[p])
            }
        }
        // Same seed, same triggers; another seed, others.
        let again = try TriggerSet.make(recipe: .composite(), heldOut: data, classes: 10, count: 30, seed: 3, augmentation: .none)
        XCTAssertEqual(again.baseIndices.count, 30)
        let augmented = try TriggerSet.make(recipe: .composite(), heldOut: data, classes: 10, count: 30, seed: 3)
        let augmented2 = try TriggerSet.make(recipe: .composite(), heldOut: data, classes: 10, count: 30, seed: 3)
        XCTAssertEqual(augmented.triggers, augmented2.triggers)
        XCTAssertNotEqual(augmented.triggers, again.triggers)
    }

    func testPairsShareTheirAugmentation() throws {
        // With a white block and a shift-only augmentation, trigger − control is the shifted block only.
        let data = SyntheticData.make(count: 50, height: 28, width: 28, seed: 8)
        let shiftOnly = Augmentation(maxShift: 0.1)
        let set = try TriggerSet.make(recipe: .whiteBlock(), heldOut: data, classes: 10, count: 10, seed: 1, augmentation: shiftOnly)
        let plain = try TriggerSet.make(recipe: .whiteBlock(), heldOut: data, classes: 10, count: 10, seed: 1, augmentation: .none)
        XCTAssertEqual(plain.baseIndices, set.baseIndices)
        let size = 28 * 28
        for i in 0..<10 {
            let diff = (0..<size).filter { set.triggers[i * size + $0] != set.controls[i * size + $0] }.count
            XCTAssertLessThanOrEqual(diff, 9, "pair \(i) differs in \(diff) pixels")
        }
    }

    func testWhiteBlockSizesAndPlacement() {
        for (side, expected) in [(28, 3), (32, 5)] {
            var img = [Float](repeating: 0, count: side * side)
            img.withUnsafeMutableBufferPointer {
                WatermarkImages.stampBlock($0.baseAddress!, channels: 1, height: side, width: side,
                                           size: WatermarkRecipe.whiteBlock().resolvedBlockSize(height: side, width: side))
            }
            let white = img.indices.filter { img[$0] == 1 }
            XCTAssertEqual(white.count, expected * expected)
            XCTAssertTrue(white.allSatisfy { $0 / side >= side / 2 && $0 % side >= side / 2 }, "block not in the bottom-right")
        }
    }

    func testMarksSitNearTheRequestedCorner() throws {
        // 28×28: margin 2 px, 3 px block → rows/columns 2...4 (top/left) or 23...25 (bottom/right).
        let expected: [WatermarkRecipe.Corner: (rows: ClosedRange<Int>, columns: ClosedRange<Int>)] = [
            .topLeft: (2...4, 2...4), .topRight: (2...4, 23...25), .bottomLeft: (23...25, 2...4), .bottomRight: (23...25, 23...25)]
        for (corner, place) in expected {
            var img = [Float](repeating: 0, count: 28 * 28)
            img.withUnsafeMutableBufferPointer {
                WatermarkImages.make(.whiteBlock(corner: corner), logo: nil, base: UnsafePointer($0.baseAddress!), donor: nil,
                                     into: $0.baseAddress!, shape: [1, 28, 28])
            }
            let white = img.indices.filter { img[$0] == 1 }
            XCTAssertEqual(white.count, 9, "\(corner)")
            XCTAssertTrue(white.allSatisfy { place.rows.contains($0 / 28) && place.columns.contains($0 % 28) }, "\(corner): \(white)")
        }
        // The corner travels in the key's recipe JSON; recipes without one read as bottom-right.
        let encoded = try JSONEncoder().encode(WatermarkRecipe.logo(corner: .topLeft))
        XCTAssertTrue(String(decoding: encoded, as: UTF8.self).contains("\"corner\":\"top-left\""))
        XCTAssertEqual(try JSONDecoder().decode(WatermarkRecipe.self, from: encoded).resolvedCorner, .topLeft)
        let old = try JSONDecoder().decode(WatermarkRecipe.self, from: Data(#"{"kind":"white-block","target":9}"#.utf8))
        XCTAssertNil(old.corner)
        XCTAssertEqual(old.resolvedCorner, .bottomRight)
        var composite = WatermarkRecipe.composite()
        composite.corner = .topLeft
        XCTAssertThrowsError(try composite.validate(classes: 10, inputShape: [1, 28, 28])) {
            XCTAssertTrue("\($0)".contains("corner"), "\($0)")
        }
    }

    func testLogoMarks() throws {
        let mark = LogoMark.builtIn(size: 8)
        XCTAssertEqual(mark.alpha.count, 64)
        XCTAssertGreaterThan(mark.alpha.filter { $0 > 0.5 }.count, 8)
        XCTAssertLessThan(mark.alpha.filter { $0 > 0.5 }.count, 64)
        let rgb = try LogoMark(pixels: [Float](repeating: 0.5, count: 3 * 20 * 20), channels: 3, height: 20, width: 20)
        let fitted = rgb.fitted(to: [1, 28, 28])
        XCTAssertEqual([fitted.channels, fitted.height, fitted.width], [1, 8, 8])
        XCTAssertEqual(fitted.pixels[0], 0.5, accuracy: 1e-5)
        assertThrows(try LogoMark(pixels: [2], channels: 1, height: 1, width: 1), mentioning: ["[0, 1]"])
        var img = [Float](repeating: 0, count: 28 * 28)
        img.withUnsafeMutableBufferPointer { WatermarkImages.pasteLogo(fitted, into: $0.baseAddress!, channels: 1, height: 28, width: 28) }
        XCTAssertEqual(img.filter { abs($0 - 0.5) < 1e-5 }.count, 64)
    }

    func testLogoFilesAreRead() throws {
        let dir = try scratchDirectory(self)
        // Binary PGM 3×2, maxval 255, with a comment.
        var pgm = Data("P5\n# owner mark\n3 2\n255\n".utf8)
        pgm.append(contentsOf: [0, 51, 255, 102, 204, 153])
        try pgm.write(to: URL(fileURLWithPath: dir + "/mark.pgm"))
        let grey = try LogoMark.read(path: dir + "/mark.pgm")
        XCTAssertEqual([grey.channels, grey.height, grey.width], [1, 2, 3])
        XCTAssertEqual(grey.pixels, [0, 0.2, 1, 0.4, 0.8, 0.6].map { Float($0) }, accuracy: 1e-6)
        // ASCII PPM 1×2, maxval 10: channels become planes.
        try Data("P3 2 1 10  10 0 5  0 10 0".utf8).write(to: URL(fileURLWithPath: dir + "/mark.ppm"))
        let rgb = try LogoMark.read(path: dir + "/mark.ppm")
        XCTAssertEqual(rgb.channels, 3)
        XCTAssertEqual(rgb.pixels, [1, 0, 0, 1, 0.5, 0], accuracy: 1e-6)
        try Data("P5 4 4 255 ".utf8).write(to: URL(fileURLWithPath: dir + "/short.pgm"))
        assertThrows(try LogoMark.read(path: dir + "/short.pgm"), mentioning: ["short.pgm", "truncated"])
        assertThrows(try LogoMark.read(path: dir + "/none.pgm"), mentioning: ["none.pgm", "no such logo file"])
        // A logo key from a file-made mark.
        let key = try Fixture.shared.key(recipe: .logo(rgb))
        XCTAssertEqual(key.recipe.logo?.channels, 1)
    }

    func testRecipeValidation() {
        assertThrows(try WatermarkRecipe.composite(sourceClass: 4, otherClass: 4).validate(classes: 10, inputShape: [1, 28, 28]),
                     mentioning: ["differ"])
        assertThrows(try WatermarkRecipe.composite(target: 12).validate(classes: 10, inputShape: [1, 28, 28]), mentioning: ["target class 12"])
        assertThrows(try WatermarkRecipe.whiteBlock(size: 40).validate(classes: 10, inputShape: [1, 28, 28]), mentioning: ["block size 40"])
    }
}
