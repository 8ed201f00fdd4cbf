import Foundation

/// Requests waiting for their ledger records to commit, and the hand-over to the writer that
/// commits them: what the ledger's "record before answer" mode is made of.
///
/// A request records and registers under one lock (`commit(after:)`), and the writer takes the
/// waiters together with the records under the same lock (`take`), so every waiter it takes has
/// its records in the batch it commits, and a record taken always belongs to a waiter taken.
final class GroupCommit: @unchecked Sendable {
    typealias Waiter = CheckedContinuation<Void, any Error>

    private let condition = NSCondition()
    private var waiters: [Waiter] = []
    private var stopped = false

    /// Runs `record`, then waits until the writer resumes this request after its commit. After
    /// `stop` it records nothing and throws.
    func commit(after record: () -> Void) async throws {
        try await withCheckedThrowingContinuation { (waiter: Waiter) in
            condition.lock()
            if stopped {
                condition.unlock()
                return waiter.resume(throwing: ServerError(.database, "the ledger is closing; nothing more is recorded"))
            }
            record()
            waiters.append(waiter)
            condition.signal()
            condition.unlock()
        }
    }

    /// The waiting requests and what `records` takes, both under the lock.
    func take<T>(_ records: () -> T) -> ([Waiter], T) {
        condition.lock()
        defer { condition.unlock() }
        let taken = waiters
        waiters = []
        return (taken, records())
    }

    /// Blocks until a request waits (true) or `stop` was called and none does (false).
    func waitForWork() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while waiters.isEmpty && !stopped { condition.wait() }
        return !waiters.isEmpty
    }

    /// Lets `waitForWork` return false once the last waiter is taken.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    static func resume(_ waiters: [Waiter], with result: Result<Void, any Error>) {
        for w in waiters { w.resume(with: result) }
    }
}
