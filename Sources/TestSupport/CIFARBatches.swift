import Foundation

/// Small CIFAR-10 binary batches for tests: each record a label byte, then 1024 R, 1024 G and
/// 1024 B bytes; each class its own colour and a bright stripe at its own rows, with seeded
/// noise, so a small network learns them in an epoch or two.
public enum CIFARBatches {
    public static func write(_ file: String, count: Int, seed: UInt64) throws {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func noise() -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % 61) - 30
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 3073)
        for i in 0..<count {
            let label = i % 10
            bytes.append(UInt8(label))
            let colour = [(label * 97) % 256, (label * 53 + 40) % 256, (label * 181 + 90) % 256]
            for channel in 0..<3 {
                for p in 0..<1024 {
                    let stripe = p / 32 / 3 == label ? 80 : 0
                    bytes.append(UInt8(clamping: colour[channel] / 2 + 60 + stripe + noise()))
                }
            }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }
}
