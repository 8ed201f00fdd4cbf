
/// Work splitting over the machine's cores with a fixed chunking, so results do not depend
/// on which thread ran which chunk (bitwise-reproducible reductions for a given thread count).
public enum Parallel {
    /// Number of worker chunks used by kernels. Defaults to the number of active cores.
    /// Set it before the first parallel loop: the worker threads are started once.
    nonisolated(unsafe) public static var threadCount: Int = max(1, ProcessInfoShim.activeProcessorCount)

    /// How long a worker thread that has finished a loop keeps watching for the next before it
    /// sleeps. Waking a sleeping thread takes tens of microseconds, as long as a small loop itself
    /// (a layer of single-image inference, the defense on a batch), and loops come in bursts. A
    /// process whose other threads need the cores between loops (a server's event loop) sets 0.
    nonisolated(unsafe) public static var idleSpinNanoseconds: UInt64 = 50_000

    nonisolated(unsafe) private static var pool: WorkerPool?
    private static let poolLock = PoolLock()

    private static func sharedPool() -> WorkerPool {
        poolLock.withLock {
            if let pool, pool.workerCount >= threadCount - 1 { return pool }
            let p = WorkerPool(workers: max(threadCount - 1, 0))
            pool = p
            return p
        }
    }

    /// Runs `body(i)` for i in 0..<n, concurrently when n > 1 and more than one thread is allowed.
    @inline(__always)
    public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        if n <= 1 || threadCount <= 1 {
            for i in 0..<n { body(i) }
        } else {
            sharedPool().run(n, body)
        }
    }

    /// Splits 0..<total into at most `threadCount` contiguous ranges of at least `minimum`
    /// elements and runs them concurrently. Returns the number of chunks used.
    @discardableResult
    @inline(__always)
    public static func chunks(_ total: Int, minimum: Int = 1, _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) -> Int {
        let n = chunkCount(total, minimum: minimum)
        if n <= 1 {
            body(0, 0..<total)
            return 1
        }
        forEach(n) { c in body(c, chunkRange(total, chunks: n, index: c)) }
        return n
    }

    /// How many chunks `chunks(_:minimum:_:)` will use for `total` elements.
    public static func chunkCount(_ total: Int, minimum: Int = 1) -> Int {
        guard total > 0 else { return 1 }
        return max(1, min(threadCount, total / max(minimum, 1)))
    }

    /// The `index`-th of `chunks` near-equal contiguous ranges of 0..<total.
    public static func chunkRange(_ total: Int, chunks: Int, index: Int) -> Range<Int> {
        let base = total / chunks, extra = total % chunks
        let start = index * base + min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }
}

/// Carries a non-Sendable value (a closure over raw pointers) into a concurrent loop whose
/// iterations touch disjoint memory.
public struct UncheckedBox<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// Wraps a raw pointer for use inside concurrent loops that write disjoint regions.
public struct SendablePointer<T>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>
    public init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

#if canImport(Glibc)
import Glibc
enum ProcessInfoShim {
    static var activeProcessorCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}
#else
import Foundation
import Darwin
enum ProcessInfoShim {
    static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
#endif

/// A plain mutex for the pool's one-time start.
final class PoolLock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func withLock<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    /// A second, independent mutex section (for work that must not overlap between callers
    /// but may itself take `withLock`).
    private var executionMutex: pthread_mutex_t = {
        var m = pthread_mutex_t()
        pthread_mutex_init(&m, nil)
        return m
    }()
    func executing(_ body: () -> Void) {
        pthread_mutex_lock(&executionMutex)
        defer { pthread_mutex_unlock(&executionMutex) }
        body()
    }
}
