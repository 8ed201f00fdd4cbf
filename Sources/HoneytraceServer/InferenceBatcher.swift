import Foundation
import Honeytrace
import TensorEngine
import Training

/// The model a server runs: behind the Honeytrace defense (with its heavy-client defense, when
/// the key has one), or bare (a suspect's surrogate, a baseline), answering softmax(logits) with
/// no defense diagnostics.
enum ServedModel: Sendable {
    case defended(DefendedModel, heavy: DefendedClient.HeavyClient? = nil)
    case plain(TrainedModel)

    var trained: TrainedModel {
        switch self {
        case .defended(let d, _): return d.model
        case .plain(let m): return m
        }
    }

    /// The answer for raw [0, 1] images `[B, C, H, W]`: the defense's output (the heavy-client
    /// defense's on the rows marked in `heavyRows`), or the bare probabilities with similarity 0
    /// and nothing mixed or flipped. Empty `heavyRows`: no row is a heavy client's.
    func query(_ pixels: Tensor, heavyRows: [Bool]) throws -> DefenseOutput {
        switch self {
        case .defended(let d, let heavy):
            return try DefendedClient.output(pixels, honest: d, heavy: heavy, heavyRows: heavyRows)
        case .plain(let m):
            try m.checkInput(pixels)
            let p = Autograd.inference { m.forward(pixels: pixels).logits.softmax() }
            let n = pixels.shape[0]
            return DefenseOutput(rows: n, classes: m.classes, probabilities: p.scalars, similarity: [Float](repeating: 0, count: n),
                                 mixed: [Bool](repeating: false, count: n), flipped: [Bool](repeating: false, count: n))
        }
    }
}

/// Runs the served model for many concurrent requests, batching their rows.
///
/// Requests hand their images to `submit`; one worker thread (off the event loops and off
/// Swift's cooperative pool, so a forward pass never stalls networking or other tasks) collects
/// rows until `maxBatch` rows are queued, or `maxWait` has passed since the oldest queued row
/// arrived, or every request in flight (between `enter` and `leave`) has queued its rows (no
/// one else is about to join: a lone client is answered at once), runs one defended forward
/// pass over all of them, and resumes every request with its
/// own rows. While a pass runs, new rows queue up and form the next batch, so under load batches
/// fill without waiting. One worker also means the model is never run concurrently.
///
/// Back-pressure: when more than `maxPendingRows` rows are queued, `submit` fails at once with
/// 503 instead of letting latency and memory grow without bound.
final class InferenceBatcher: @unchecked Sendable {
    /// The rows of one request, answered: a `DefenseOutput` of exactly its rows.
    typealias Completion = CheckedContinuation<DefenseOutput, any Error>

    private struct Job {
        let rows: Int
        let pixels: [Float]
        /// The rows come from a client past the heavy-client threshold.
        let heavy: Bool
        let arrived: ContinuousClock.Instant
        let completion: Completion
    }

    /// Statistics of one forward pass, reported to `onBatch` (for metrics).
    struct BatchReport: Sendable {
        let rows: Int
        let requests: Int
        let seconds: Double
    }

    let model: ServedModel
    let maxBatch: Int
    let maxWait: Duration
    let maxPendingRows: Int
    private let onBatch: @Sendable (BatchReport) -> Void

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var queueHead = 0
    private var pendingRows = 0
    private var state: State = .idle
    private var worker: Thread?
    private var batchesRun = 0
    /// Requests between `enter()` and `leave()`.
    private var inFlight = 0
    private var rowsRun = 0
    private let clock = ContinuousClock()

    private enum State { case idle, running, stopping, stopped }

    init(model: ServedModel, maxBatch: Int, maxWait: Duration, maxPendingRows: Int,
         onBatch: @escaping @Sendable (BatchReport) -> Void = { _ in }) {
        self.model = model
        self.maxBatch = max(1, maxBatch)
        self.maxWait = maxWait
        self.maxPendingRows = maxPendingRows
        self.onBatch = onBatch
    }

    /// Rows queued and not yet answered.
    var queuedRows: Int {
        condition.lock()
        defer { condition.unlock() }
        return pendingRows
    }

    /// A request has started (it may soon submit rows): the batcher waits for it, up to `maxWait`.
    func enter() {
        condition.lock()
        inFlight += 1
        condition.unlock()
    }

    /// A request has finished (answered or refused).
    func leave() {
        condition.lock()
        inFlight -= 1
        condition.signal()
        condition.unlock()
    }

    /// Forward passes run and rows answered so far.
    var statistics: (batches: Int, rows: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (batchesRun, rowsRun)
    }

    /// Starts the worker thread (once).
    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard state == .idle else { return }
        state = .running
        let thread = Thread { [self] in self.work() }
        thread.name = "honeytrace-inference"
        thread.stackSize = 16 << 20
        worker = thread
        thread.start()
    }

    /// Answers what is queued, then stops the worker; later submissions get 503. Returns once the
    /// queue is drained.
    func shutdown() {
        condition.lock()
        if state == .idle { state = .stopped }
        if state == .running { state = .stopping }
        condition.broadcast()
        while state != .stopped { condition.wait() }
        condition.unlock()
    }

    /// The defended output for `rows` images (`pixels` holds them back to back, row-major), by
    /// the heavy-client defense when `heavy`.
    ///
    /// - Throws: `APIError` 503 when the queue is full or the server is stopping; the model's
    ///   error (as 500) if the forward pass fails.
    func submit(pixels: [Float], rows: Int, heavy: Bool = false) async throws -> DefenseOutput {
        try await withCheckedThrowingContinuation { (completion: Completion) in
            condition.lock()
            guard state == .running else {
                condition.unlock()
                completion.resume(throwing: APIError(.serviceUnavailable, .overloaded, "the server is shutting down", retryAfter: 1))
                return
            }
            guard pendingRows + rows <= maxPendingRows else {
                let queued = pendingRows
                condition.unlock()
                completion.resume(throwing: APIError(.serviceUnavailable, .overloaded,
                                                     "\(queued) images are waiting for the model (limit \(maxPendingRows)); retry shortly",
                                                     retryAfter: 1))
                return
            }
            queue.append(Job(rows: rows, pixels: pixels, heavy: heavy, arrived: clock.now, completion: completion))
            pendingRows += rows
            condition.signal()
            condition.unlock()
        }
    }

    // MARK: Worker

    private func work() {
        while let jobs = nextBatch() {
            run(jobs)
        }
    }

    /// Waits for the next batch: nil once stopping with nothing queued.
    private func nextBatch() -> [Job]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while queueHead == queue.count {
                if state != .running {
                    state = .stopped
                    condition.broadcast()
                    return nil
                }
                condition.wait()
            }
            // Wait for more rows until the batch is full, the oldest row has waited maxWait, or
            // every request in flight has queued its rows.
            let deadline = queue[queueHead].arrived + maxWait
            while pendingRows < maxBatch && state == .running && queue.count - queueHead < inFlight {
                let now = clock.now
                if now >= deadline { break }
                let remaining = (deadline - now).seconds
                _ = condition.wait(until: Date(timeIntervalSinceNow: remaining))
            }
            var jobs: [Job] = []
            var rows = 0
            while queueHead < queue.count {
                let job = queue[queueHead]
                if !jobs.isEmpty && rows + job.rows > maxBatch { break }
                jobs.append(job)
                rows += job.rows
                queueHead += 1
            }
            pendingRows -= rows
            if queueHead > 1024 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            } else if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            }
            if !jobs.isEmpty { return jobs }
        }
    }

    /// One defended forward pass over the rows of `jobs`; resumes each job with its rows.
    private func run(_ jobs: [Job]) {
        let shape = model.trained.inputShape
        let size = model.trained.inputSize
        let total = jobs.reduce(0) { $0 + $1.rows }
        let start = clock.now
        let output: DefenseOutput
        do {
            let x = Tensor(uninitialized: [total] + shape)
            var offset = 0
            for job in jobs {
                job.pixels.withUnsafeBufferPointer { src in
                    (x.data + offset).update(from: src.baseAddress!, count: job.rows * size)
                }
                offset += job.rows * size
            }
            // Marks only when a heavy client's rows are in the batch (no marks: the key's defense alone).
            let heavyRows = jobs.contains { $0.heavy } ? jobs.flatMap { [Bool](repeating: $0.heavy, count: $0.rows) } : []
            output = try model.query(x, heavyRows: heavyRows)
        } catch {
            let failure = APIError(.internalServerError, .internalError, "the model failed on this batch: \(error)")
            for job in jobs { job.completion.resume(throwing: failure) }
            return
        }
        onBatch(BatchReport(rows: total, requests: jobs.count, seconds: (clock.now - start).seconds))
        condition.lock()
        batchesRun += 1
        rowsRun += total
        condition.unlock()
        if jobs.count == 1 {
            jobs[0].completion.resume(returning: output)
            return
        }
        let k = output.classes
        var row = 0
        for job in jobs {
            let r = row..<(row + job.rows)
            let part = DefenseOutput(rows: job.rows, classes: k,
                                     probabilities: Array(output.probabilities[(r.lowerBound * k)..<(r.upperBound * k)]),
                                     similarity: Array(output.similarity[r]), mixed: Array(output.mixed[r]),
                                     flipped: Array(output.flipped[r]))
            job.completion.resume(returning: part)
            row += job.rows
        }
    }
}
