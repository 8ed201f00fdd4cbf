import Crypto
import Foundation
import Prediction
import TensorEngine

/// The 2m images one verification sends (each pair's trigger and its control) as a single list,
/// for a suspect that is answered offline (`verify --export-queries`, then `--answers`).
///
/// Triggers and controls are interleaved in an order drawn from a generator seeded by the key's
/// secret and the trigger seed: whoever answers the list cannot tell from the files or the
/// seed which image is whose control, while the owner recomputes the order from the key. The
/// answers are replayed to the unchanged verifier (`recordedSuspect`), so the verdict is the one
/// a live query of the same answers would give.
public struct OfflineQueries: Sendable {
    /// Where query k comes from: pair `pair`'s trigger, or its control.
    public struct Slot: Sendable, Equatable {
        public let pair: Int
        public let isTrigger: Bool
    }

    /// The triggers and controls (made from the key's recipe and `seed`).
    public let triggers: TriggerSet
    /// The trigger seed the set was made with.
    public let seed: UInt64
    /// Query k's source, for k in 0..<2m.
    public let slots: [Slot]

    /// Domain of the keys derived from the watermark key's secret (bump with the derivation).
    static let domain = "honeytrace verification queries v1"

    /// - Parameter secret: the watermark key's secret; it seeds the order.
    public init(triggers: TriggerSet, secret: [UInt8], seed: UInt64) {
        self.triggers = triggers
        self.seed = seed
        var message = Data("order".utf8)
        withUnsafeBytes(of: seed.littleEndian) { message.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(triggers.count).littleEndian) { message.append(contentsOf: $0) }
        let tag = Array(HMAC<SHA256>.authenticationCode(for: message, using: OfflineQueries.derivedKey(secret: secret)))
        var generator = SeededGenerator(seed: tag.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        var slots = (0..<triggers.count).flatMap { [Slot(pair: $0, isTrigger: true), Slot(pair: $0, isTrigger: false)] }
        for i in stride(from: slots.count - 1, to: 0, by: -1) { slots.swapAt(i, generator.nextInt(below: i + 1)) }
        self.slots = slots
    }

    /// The key the order and the manifest's signature are derived under: HKDF-SHA256 of the
    /// watermark key's secret, so neither reveals the secret nor can be made without it.
    public static func derivedKey(secret: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), info: Data(domain.utf8), outputByteCount: 32)
    }

    /// Number of queries, 2m.
    public var count: Int { slots.count }

    /// Every query image, `[2m, C, H, W]` flattened, in query order.
    public func pixels() -> [Float] {
        let size = triggers.imageSize
        var out = [Float](repeating: 0, count: count * size)
        out.withUnsafeMutableBufferPointer { dst in
            for (k, slot) in slots.enumerated() {
                let source = slot.isTrigger ? triggers.triggers : triggers.controls
                source.withUnsafeBufferPointer { src in
                    (dst.baseAddress! + k * size).update(from: src.baseAddress! + slot.pair * size, count: size)
                }
            }
        }
        return out
    }

    /// The suspect whose answers to these queries are `answers`: the verifier asks it as it
    /// would ask a live suspect, and gets exactly the recorded answers.
    public func recordedSuspect(_ answers: AnswerFile, classes: Int) throws -> RecordedAPI {
        guard answers.rows.count == count else {
            throw HoneytraceError(file: answers.path, .invalidArgument, "\(count) answers expected (one per exported query), found \(answers.rows.count)")
        }
        return try RecordedAPI(name: answers.path, inputShape: triggers.imageShape, classes: classes, answerMode: answers.answerMode,
                               images: pixels(), rows: answers.rows)
    }
}
