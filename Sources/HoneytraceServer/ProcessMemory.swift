import Foundation

/// Resident memory of this process, from `/proc/self/status` (Linux); nil elsewhere.
public enum ProcessMemory {
    /// Current resident set size in bytes (`VmRSS`).
    public static func residentBytes() -> Int? { field("VmRSS:") }
    /// Peak resident set size in bytes since the process started (`VmHWM`).
    public static func peakResidentBytes() -> Int? { field("VmHWM:") }

    private static func field(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let kb = Int(parts[1]) else { return nil }
            return kb * 1024
        }
        return nil
    }
}
