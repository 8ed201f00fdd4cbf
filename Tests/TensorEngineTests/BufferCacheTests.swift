@testable import TensorEngine
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Freed large buffers come back for the next tensor of their exact size; small ones are not
/// kept; past the capacity the longest-kept go first.
final class BufferCacheTests: XCTestCase {
    private var reused = true
    override func setUp() {
        reused = TensorMemory.reusesFreedBuffers
        TensorMemory.reusesFreedBuffers = true  // a server test in this process may have turned it off
    }
    override func tearDown() { TensorMemory.reusesFreedBuffers = reused }

    private func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        var raw: UnsafeMutableRawPointer? = nil
        XCTAssertEqual(posix_memalign(&raw, 64, bytes), 0)
        return raw!
    }

    func testBuffersComeBackByExactSizeOnly() {
        let cache = BufferCache()
        let bytes = 2 << 20
        let p = allocate(bytes)
        cache.give(p, bytes: bytes)
        XCTAssertEqual(cache.heldBytes, bytes)
        XCTAssertNil(cache.take(bytes: bytes + 64), "another size must not get the buffer")
        XCTAssertEqual(cache.take(bytes: bytes), p)
        XCTAssertNil(cache.take(bytes: bytes), "a buffer is handed out once")
        XCTAssertEqual(cache.heldBytes, 0)
        free(p)
    }

    func testSmallBuffersAreNotKept() {
        let cache = BufferCache()
        let bytes = BufferCache.minimumBytes - 4
        cache.give(allocate(bytes), bytes: bytes)
        XCTAssertEqual(cache.heldBytes, 0)
        XCTAssertNil(cache.take(bytes: bytes))
    }

    func testPastTheCapacityTheOldestAreFreed() {
        let cache = BufferCache()
        let bytes = 200 << 20  // three exceed the 512 MiB capacity (pages never touched: no memory used)
        let first = allocate(bytes), second = allocate(bytes), third = allocate(bytes)
        cache.give(first, bytes: bytes)
        cache.give(second, bytes: bytes)
        cache.give(third, bytes: bytes)
        XCTAssertEqual(cache.heldBytes, 2 * bytes)
        XCTAssertEqual(cache.take(bytes: bytes), third, "the most recently kept comes first")
        XCTAssertEqual(cache.take(bytes: bytes), second)
        XCTAssertNil(cache.take(bytes: bytes), "the oldest was freed to make room")
        free(second)
        free(third)
    }

    func testTurnedOffNothingIsKeptAndWhatWasKeptIsFreed() {
        let count = 1 << 20
        var first: Storage? = Storage(uninitializedCount: count)
        first = nil
        XCTAssertGreaterThan(BufferCache.shared.heldBytes, 0)
        TensorMemory.reusesFreedBuffers = false
        XCTAssertEqual(BufferCache.shared.heldBytes, 0, "turning reuse off frees what was kept")
        first = Storage(uninitializedCount: count)
        first = nil
        XCTAssertEqual(BufferCache.shared.heldBytes, 0, "nothing is kept while off")
        _ = first
    }

    func testLargeSizesRoundUpToEighthsOfTheirPowerOfTwo() {
        XCTAssertEqual(BufferCache.size(for: 1000), 1000, "small buffers are allocated as asked")
        XCTAssertEqual(BufferCache.size(for: 1 << 20), 1 << 20)
        XCTAssertEqual(BufferCache.size(for: (1 << 20) + 1), (1 << 20) + (1 << 17))
        XCTAssertEqual(BufferCache.size(for: 3 << 20), 3 << 20)
        XCTAssertEqual(BufferCache.size(for: 6_422_528), 6_815_744, "128×16×28×28 floats: 13 steps of 512 KiB")
        for bytes in stride(from: 1 << 20, to: 64 << 20, by: 99_991) {
            let size = BufferCache.size(for: bytes)
            XCTAssertGreaterThanOrEqual(size, bytes)
            XCTAssertLessThanOrEqual(Double(size), Double(bytes) * 1.125)
        }
    }

    func testStorageOfNearbySizesSharesABuffer() {
        var first: Storage? = Storage(uninitializedCount: 1_000_000)
        let address = first!.pointer
        first = nil
        let second = Storage(uninitializedCount: 1_010_000)
        XCTAssertEqual(second.pointer, address, "a batch a few rows larger reuses the buffer")
    }

    func testStorageReusesAFreedBufferAndStillComputesRight() {
        let count = 1 << 20
        var first: Storage? = Storage(uninitializedCount: count)
        let address = first!.pointer
        first = nil
        let second = Storage(zeroedCount: count)
        XCTAssertEqual(second.pointer, address, "the freed buffer of the same size is reused")
        XCTAssertTrue(second.buffer.allSatisfy { $0 == 0 }, "zeroed storage is zero even when reused")
        let a = Tensor([Float](repeating: 2, count: count), shape: [count])
        let b = Tensor([Float](repeating: 3, count: count), shape: [count])
        XCTAssertTrue((a * b).scalars.allSatisfy { $0 == 6 })
    }
}
