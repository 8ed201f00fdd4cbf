#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A fixed set of long-lived worker threads that run the iterations of a parallel loop
/// together with the calling thread.
///
/// Fixed threads matter: OpenBLAS keeps a packing buffer per calling thread and glibc a heap
/// arena per thread, so a pool whose threads come and go (as Dispatch's does) makes memory
/// grow without bound. A loop started while another is running (a nested call, or a second
/// caller thread) runs serially on its own thread instead of waiting.
final class WorkerPool: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var workAvailable = pthread_cond_t()
    private var workFinished = pthread_cond_t()
    private var body: ((Int) -> Void)?
    private var iterations = 0
    private var nextIteration = 0
    private var generation = 0
    private var activeWorkers = 0
    private var busy = false
    /// `generation`, published for workers that spin before they sleep.
    private let published = Atomic<Int>(0)
    let workerCount: Int

    init(workers: Int) {
        workerCount = workers
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&workAvailable, nil)
        pthread_cond_init(&workFinished, nil)
        for _ in 0..<workers {
            let context = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let pool = Unmanaged<WorkerPool>.fromOpaque(raw!).takeRetainedValue()
                pool.workerLoop()
                return nil
            }, context)
            precondition(rc == 0, "could not start a worker thread (error \(rc))")
            pthread_detach(thread)
        }
    }

    /// Runs body(0..<n), returning when every iteration has finished.
    func run(_ n: Int, _ work: (Int) -> Void) {
        pthread_mutex_lock(&mutex)
        if busy || workerCount == 0 {
            pthread_mutex_unlock(&mutex)
            for i in 0..<n { work(i) }
            return
        }
        busy = true
        withoutActuallyEscaping(work) { escapable in
            body = escapable
            iterations = n
            nextIteration = 0
            activeWorkers = workerCount
            generation &+= 1
            published.store(generation, ordering: .releasing)
            pthread_cond_broadcast(&workAvailable)
            pthread_mutex_unlock(&mutex)

            drain(escapable)

            pthread_mutex_lock(&mutex)
            while activeWorkers > 0 { pthread_cond_wait(&workFinished, &mutex) }
            body = nil
        }
        busy = false
        pthread_mutex_unlock(&mutex)
    }

    /// Takes iterations until none are left.
    private func drain(_ work: (Int) -> Void) {
        while true {
            pthread_mutex_lock(&mutex)
            let i = nextIteration
            nextIteration += 1
            pthread_mutex_unlock(&mutex)
            if i >= iterations { return }
            work(i)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            let start = WorkerPool.monotonicNanoseconds()
            while published.load(ordering: .acquiring) == seen && WorkerPool.monotonicNanoseconds() &- start < Parallel.idleSpinNanoseconds {}
            pthread_mutex_lock(&mutex)
            while generation == seen { pthread_cond_wait(&workAvailable, &mutex) }
            seen = generation
            pthread_mutex_unlock(&mutex)
            runCurrentJob()
            pthread_mutex_lock(&mutex)
            activeWorkers -= 1
            if activeWorkers == 0 { pthread_cond_signal(&workFinished) }
            pthread_mutex_unlock(&mutex)
        }
    }

    /// Every reference to the caller's closure taken here is released when this returns, before
    /// the worker reports: the closure must not outlive its loop.
    @inline(never)
    private func runCurrentJob() {
        pthread_mutex_lock(&mutex)
        let work = body
        pthread_mutex_unlock(&mutex)
        if let work { drain(work) }
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
