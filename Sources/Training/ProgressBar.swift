#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress bar with the time spent and an ETA on standard error: redrawn in place on a
/// terminal, and reduced to one line per finished task when stderr is a file or pipe, so that logs
/// stay short. Commands that print JSON make no bars at all.
public final class ProgressBar: @unchecked Sendable {
    private let title: String
    private let total: Int
    private let isTerminal = isatty(2) == 1
    private var lastDraw = 0.0
    private let start = Clock.now()

    /// Writes text to standard error, unbuffered.
    public static func writeError(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { break }
            offset += n
        }
    }

    /// Writes a log line to standard error, first clearing a bar drawn on the terminal's current
    /// line, so that log lines and bars do not run into each other.
    public static func writeLine(_ line: String) {
        writeError((isatty(2) == 1 ? "\r\u{1B}[2K" : "") + line + "\n")
    }

    /// A callback for work that reports (done, total) steps: the bar is made at the first call,
    /// with that call's total, and a new one whenever the total changes. Call it from one thread
    /// at a time.
    public static func reporter(title: String) -> @Sendable (Int, Int) -> Void {
        final class Current: @unchecked Sendable { var bar: ProgressBar?; var total = -1 }
        let current = Current()
        return { done, total in
            if current.bar == nil || current.total != total {
                current.bar = ProgressBar(title: title, total: total)
                current.total = total
            }
            current.bar?.update(done)
        }
    }

    public init(title: String, total: Int) {
        self.title = title
        self.total = max(total, 1)
    }

    /// Shows `done` of `total` with a short status text (loss, accuracy, speed...).
    public func update(_ done: Int, status: String = "") {
        let now = Clock.now()
        let finished = done >= total
        guard finished || (isTerminal && now - lastDraw >= 0.1) else { return }
        lastDraw = now
        let width = 24
        let filled = Int(Double(width) * Double(min(done, total)) / Double(total))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let elapsed = now - start
        let eta = done > 0 && !finished ? String(format: " eta %.0fs", elapsed / Double(done) * Double(total - done)) : ""
        let line = "\(title) [\(bar)] \(done)/\(total) \(status) \(String(format: "%.0fs", elapsed))\(eta)"
        let text = isTerminal ? "\r\u{1B}[2K" + line + (finished ? "\n" : "") : line + "\n"
        Self.writeError(text)
    }
}
