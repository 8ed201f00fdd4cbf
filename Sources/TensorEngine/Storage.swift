#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owned, 64-byte aligned Float32 memory behind a tensor.
///
/// Kept as a class so tensors share it cheaply (reshape is a view of the same storage)
/// and so it frees itself when the last tensor that uses it goes away.
public final class Storage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// Bytes behind `pointer` (`BufferCache.size(for:)` of what `count` needs).
    private let allocatedBytes: Int

    /// Uninitialised memory for `count` floats; callers overwrite every element. Large buffers
    /// may be a previous tensor's (`BufferCache`); debug builds fill every new storage with NaN,
    /// so that code reading what it has not written fails its tests.
    public convenience init(uninitializedCount count: Int) {
        self.init(unfilledCount: count)
        #if DEBUG
        memset(pointer, 0xFF, max(count, 1) * MemoryLayout<Float>.stride)
        #endif
    }

    private init(unfilledCount count: Int) {
        Storage.configureAllocatorOnce
        self.count = count
        let bytes = BufferCache.size(for: max(count, 1) * MemoryLayout<Float>.stride)
        allocatedBytes = bytes
        if let kept = BufferCache.shared.take(bytes: bytes) {
            pointer = kept.bindMemory(to: Float.self, capacity: max(count, 1))
            return
        }
        var raw: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Zero-filled memory for `count` floats.
    public convenience init(zeroedCount count: Int) {
        self.init(unfilledCount: count)
        memset(pointer, 0, count * MemoryLayout<Float>.stride)
    }

    /// Large buffers go back to `BufferCache` for the next tensor of their size.
    deinit { BufferCache.shared.give(UnsafeMutableRawPointer(pointer), bytes: allocatedBytes) }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// glibc returns large blocks to the kernel with munmap on every free, so each new
    /// activation buffer page-faults and is zeroed by the kernel again. Keeping big blocks
    /// in the heap lets training steps reuse the same memory.
    private static let configureAllocatorOnce: Void = {
        #if os(Linux)
        _ = glibcMallopt(-3, 32 << 20)  // M_MMAP_THRESHOLD (32 MiB is glibc's maximum)
        _ = glibcMallopt(-1, 1 << 30)   // M_TRIM_THRESHOLD
        #endif
    }()
}

#if os(Linux)
/// glibc's mallopt (malloc.h is not part of Swift's Glibc module).
@_silgen_name("mallopt") private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
