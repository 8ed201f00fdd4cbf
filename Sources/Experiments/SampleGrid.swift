import Formats
import Foundation

/// Several sets of sampled images as one grayscale PNG: each set a square-ish grid, the sets side
/// by side, separated by a gray gutter, every pixel drawn as 2×2 so that 28-pixel images are legible.
enum SampleGrid {
    static func png(_ sets: [[Float]], count: Int, imageShape: [Int], scale: Int = 2, gutter: Int = 8) throws -> Data {
        let (h, w) = (imageShape[1], imageShape[2])
        let columns = Int(Double(count).squareRoot().rounded(.up)), rows = (count + columns - 1) / columns
        let gridW = columns * (w + 1) - 1, gridH = rows * (h + 1) - 1
        let width = (sets.count * (gridW + gutter) - gutter) * scale, height = gridH * scale
        var pixels = [UInt8](repeating: 128, count: max(1, width * height))
        for (k, set) in sets.enumerated() {
            for i in 0..<count {
                let ox = k * (gridW + gutter) + (i % columns) * (w + 1), oy = (i / columns) * (h + 1)
                for y in 0..<h {
                    for x in 0..<w {
                        let v = UInt8((min(max(set[i * h * w + y * w + x], 0), 1) * 255).rounded())
                        for dy in 0..<scale { for dx in 0..<scale { pixels[((oy + y) * scale + dy) * width + (ox + x) * scale + dx] = v } }
                    }
                }
            }
        }
        return try PNG.encode(pixels: pixels, width: max(1, width), height: max(1, height), channels: 1, label: "samples.png")
    }
}
