#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Freed large tensor buffers kept for the next tensor of the same size.
///
/// A training step allocates and frees the same activation and gradient buffers every step. glibc
/// serves a thread other than the main one from an arena of its own, whose memory it hands back to
/// the kernel as soon as a whole heap of it is free, whatever `M_TRIM_THRESHOLD` says; the next
/// step's buffers then page-fault and are zeroed by the kernel again (README, "Performance").
/// Keeping the freed buffers and handing them out again by size makes a step reuse the previous
/// step's memory.
///
/// Only buffers of at least `minimumBytes` are kept (small ones are cheap for malloc), and at most
/// `capacityBytes` in all: past that the longest-kept buffers are freed first, so a phase with other
/// shapes (an evaluation after training) replaces the previous phase's buffers. Large buffers are
/// allocated at `size(for:)`, a few sizes per power of two, so that batches of varying row counts (a
/// server's) share buffers instead of each count keeping its own.
final class BufferCache: @unchecked Sendable {
    static let shared = BufferCache()

    static let minimumBytes = 1 << 20
    static let capacityBytes = 512 << 20

    private struct Entry {
        let pointer: UnsafeMutableRawPointer
        let bytes: Int
        let age: UInt64
    }

    /// The bytes a buffer asked for with `bytes` is allocated with: below `minimumBytes` as asked,
    /// above it rounded up to the next multiple of an eighth of its power of two (at most 12.5 %
    /// more).
    static func size(for bytes: Int) -> Int {
        guard bytes >= minimumBytes else { return bytes }
        let log2 = Int.bitWidth - 1 - bytes.leadingZeroBitCount
        let step = 1 << (log2 - 3)
        return (bytes + step - 1) / step * step
    }

    private let lock = PoolLock()
    private var enabled = true
    private var bySize: [Int: [Entry]] = [:]
    private var cachedBytes = 0
    private var clock: UInt64 = 0

    /// A kept buffer of exactly `bytes`, or nil. Its contents are whatever its last tensor left.
    func take(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= BufferCache.minimumBytes else { return nil }
        return lock.withLock {
            guard var stack = bySize[bytes], let entry = stack.popLast() else { return nil }
            bySize[bytes] = stack.isEmpty ? nil : stack
            cachedBytes -= bytes
            return entry.pointer
        }
    }

    /// Keeps `pointer` (a buffer of `bytes` from `posix_memalign`) for reuse, or frees it when it
    /// is too small to keep or larger than the whole cache.
    func give(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes >= BufferCache.minimumBytes, bytes <= BufferCache.capacityBytes else {
            free(pointer)
            return
        }
        let evicted: [UnsafeMutableRawPointer] = lock.withLock {
            guard enabled else { return [pointer] }
            clock &+= 1
            bySize[bytes, default: []].append(Entry(pointer: pointer, bytes: bytes, age: clock))
            cachedBytes += bytes
            guard cachedBytes > BufferCache.capacityBytes else { return [] }
            // Oldest first, until the cache fits again.
            var all = bySize.values.flatMap { $0 }.sorted { $0.age < $1.age }
            var out: [UnsafeMutableRawPointer] = []
            var index = 0
            while cachedBytes > BufferCache.capacityBytes, index < all.count {
                cachedBytes -= all[index].bytes
                out.append(all[index].pointer)
                index += 1
            }
            all.removeFirst(index)
            bySize = Dictionary(grouping: all, by: \.bytes)
            return out
        }
        for p in evicted { free(p) }
    }

    /// Whether freed buffers are kept; turning it off frees every kept buffer.
    var isEnabled: Bool {
        get { lock.withLock { enabled } }
        set {
            lock.withLock { enabled = newValue }
            if !newValue { purge() }
        }
    }

    /// Bytes held for reuse now.
    var heldBytes: Int { lock.withLock { cachedBytes } }

    /// Frees every kept buffer.
    func purge() {
        let all: [Entry] = lock.withLock {
            let all = bySize.values.flatMap { $0 }
            bySize = [:]
            cachedBytes = 0
            return all
        }
        for e in all { free(e.pointer) }
    }
}

/// How the engine manages tensor memory, for the processes that must choose.
public enum TensorMemory {
    /// Whether freed large tensor buffers are kept for the next tensor of their size (default on:
    /// training reuses each step's buffers). A long-lived server turns it off: its batches come in
    /// many sizes, and buffers kept from one phase (loading a key, a burst of large batches) would
    /// stay resident. Turning it off frees every kept buffer.
    public static var reusesFreedBuffers: Bool {
        get { BufferCache.shared.isEnabled }
        set { BufferCache.shared.isEnabled = newValue }
    }
}
