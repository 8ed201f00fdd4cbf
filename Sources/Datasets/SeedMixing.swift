/// Derivation of independent seeds from a base seed and counters (epoch, batch, image),
/// so any epoch, batch or image can be reproduced on its own, in any order, on any
/// number of threads.
public enum SeedMixing {
    /// SplitMix64's finaliser: a bijective, well-mixing hash of 64 bits.
    @inline(__always)
    public static func scramble(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `mix(base, part)` without the variadic array (hot paths: one seed per image).
    @inline(__always)
    public static func mix(_ base: UInt64, _ part: UInt64) -> UInt64 {
        scramble(scramble(base) ^ scramble(part &+ 0x632B_E59B_D9B4_E019))
    }

    /// A seed derived from `base` and the ordered `parts`; distinct inputs give
    /// (practically) unrelated outputs.
    @inline(__always)
    public static func mix(_ base: UInt64, _ parts: UInt64...) -> UInt64 {
        var h = scramble(base)
        for p in parts { h = scramble(h ^ scramble(p &+ 0x632B_E59B_D9B4_E019)) }
        return h
    }

    /// A stable 64-bit seed for a text (FNV-1a): a purpose or a client name mixed into a seed
    /// without depending on Swift's per-process hash seed.
    public static func salt(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}
