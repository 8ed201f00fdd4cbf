import Foundation

/// How far a grid is and when it will end, for the runner's "[k of n done]" lines: the rate is
/// measured over the cells finished since this process started (by it or by other workers on the
/// same directory), so cells found finished from an earlier run do not make the estimate optimistic.
struct GridProgress {
    let total: Int
    let doneAtStart: Int
    let started: Date

    init(total: Int, doneAtStart: Int, started: Date = Date()) {
        self.total = total
        self.doneAtStart = doneAtStart
        self.started = started
    }

    /// "[k of n done, eta 1h 20m]"; without a finished cell yet, no ETA.
    func line(done: Int, now: Date = Date()) -> String {
        let finishedHere = done - doneAtStart
        guard finishedHere > 0, done < total else { return "[\(done) of \(total) done]" }
        let perCell = now.timeIntervalSince(started) / Double(finishedHere)
        return "[\(done) of \(total) done, eta \(Self.duration(perCell * Double(total - done)))]"
    }

    /// 45s, 12m, 3h 05m.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        return String(format: "%dh %02dm", s / 3600, (s % 3600) / 60)
    }
}
