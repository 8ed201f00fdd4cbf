import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gathers the records and surrogates of several experiment directories (e.g. seeds of one grid)
/// into one source directory for `experiment run --reuse-attacks-from` (issue 19; formerly the
/// `combine.sh` scripts under docs/results).
///
/// The sources must have attacked the same victim with the same attack settings (what reusing an
/// attack checks against the source's one manifest); when any of them holds a defended cell, also
/// the same key and defense settings. A cell id found in several sources must have byte-identical
/// records there. The combined manifest is the first source's with every source's runs.
public enum ExperimentCombination {
    /// What was gathered: cells per source (duplicates counted once, at their first source).
    public struct Summary: Sendable {
        public var cells: [(source: String, ids: [String])]
        public var total: Int { cells.reduce(0) { $0 + $1.ids.count } }
    }

    /// A source directory and the cells taken from it: ids matching any of `patterns` (shell
    /// globs such as `*--knockoff--naive--s0` or `*--s[12]`; none: every cell).
    public struct Selection: Sendable {
        public var path: String
        public var patterns: [String]
        public init(path: String, patterns: [String] = []) { self.path = path; self.patterns = patterns }

        /// `DIR` or `DIR:GLOB[,GLOB…]` (an existing directory named with a colon is taken whole).
        public init(argument: String) {
            var isDirectory: ObjCBool = false
            if let colon = argument.lastIndex(of: ":"),
               !(FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) && isDirectory.boolValue) {
                self.init(path: String(argument[..<colon]),
                          patterns: argument[argument.index(after: colon)...].split(separator: ",").map(String.init))
            } else {
                self.init(path: argument)
            }
        }

        public func includes(_ id: String) -> Bool {
            patterns.isEmpty || patterns.contains { fnmatch($0, id, 0) == 0 }
        }
    }

    /// Combines the selected cells of `sources` into `output` (a new or empty directory).
    ///
    /// - Throws: `ExperimentError`, naming the directory (and cell), for a missing or unreadable
    ///   source, another victim, key or settings, or a clashing cell; nothing is written then.
    @discardableResult
    public static func combine(_ sources: [Selection], into output: String) throws -> Summary {
        guard !sources.isEmpty else { throw ExperimentError("give at least one experiment directory to combine") }
        let fm = FileManager.default
        if fm.fileExists(atPath: output), !((try? fm.contentsOfDirectory(atPath: output)) ?? []).isEmpty {
            throw ExperimentError("\(output) exists and is not empty; combine writes a new directory")
        }
        struct Source { var path: String; var manifest: ExperimentManifest; var ids: [String] }
        var read: [Source] = []
        for selection in sources {
            let path = selection.path
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ExperimentError("\(path): no such experiment directory")
            }
            let manifestPath = path + "/manifest.json"
            guard let data = fm.contents(atPath: manifestPath) else {
                throw ExperimentError("\(manifestPath): no experiment manifest; only finished experiment directories combine")
            }
            let manifest: ExperimentManifest
            do { manifest = try JSONDecoder().decode(ExperimentManifest.self, from: data) } catch {
                throw ExperimentError("\(manifestPath): not an experiment manifest (\(error))")
            }
            let ids = ((try? fm.contentsOfDirectory(atPath: path + "/runs")) ?? [])
                .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.filter(selection.includes).sorted()
            if ids.isEmpty {
                throw ExperimentError("\(path): no cell\(selection.patterns.isEmpty ? "" : " matches \(selection.patterns.joined(separator: ", "))") in runs/")
            }
            read.append(Source(path: path, manifest: manifest, ids: ids))
        }
        // What reusing an attack checks against the source's manifest must hold for every source.
        let first = read[0]
        let anyDefended = read.contains { $0.ids.contains { !$0.hasPrefix("none--") } }
        for s in read.dropFirst() {
            let checks = [("victim", first.manifest.victimSHA256 == s.manifest.victimSHA256)]
                + first.manifest.configuration.reuseChecks(against: s.manifest.configuration,
                                                           sameKey: anyDefended ? first.manifest.keyFingerprint == s.manifest.keyFingerprint : nil)
            let differences = checks.filter { !$0.1 }.map(\.0)
            guard differences.isEmpty else {
                throw ExperimentError("\(s.path) differs from \(first.path) in \(differences.joined(separator: ", ")); its runs cannot be reused together")
            }
        }
        // Clashes: the same cell id with different records.
        var origin: [String: (source: String, record: Data)] = [:]
        var summary = Summary(cells: [])
        for s in read {
            var taken: [String] = []
            for id in s.ids {
                let recordPath = "\(s.path)/runs/\(id).json"
                guard let record = fm.contents(atPath: recordPath) else { throw ExperimentError("\(recordPath): unreadable") }
                guard fm.fileExists(atPath: "\(s.path)/surrogates/\(id)/model.json") else {
                    throw ExperimentError("\(s.path): cell \(id) has a record but no surrogate (surrogates/\(id)/model.json)")
                }
                if let earlier = origin[id] {
                    guard earlier.record == record else {
                        throw ExperimentError("cell \(id) clashes: \(recordPath) differs from \(earlier.source)/runs/\(id).json")
                    }
                    continue
                }
                origin[id] = (s.path, record)
                taken.append(id)
            }
            summary.cells.append((s.path, taken))
        }
        // Write.
        let out = URL(fileURLWithPath: output)
        try fm.createDirectory(at: out.appendingPathComponent("runs"), withIntermediateDirectories: true)
        try fm.createDirectory(at: out.appendingPathComponent("surrogates"), withIntermediateDirectories: true)
        var manifest = first.manifest
        manifest.runs = [:]
        for (s, taken) in zip(read, summary.cells) {
            for id in taken.ids {
                try fm.copyItem(atPath: "\(s.path)/runs/\(id).json", toPath: out.appendingPathComponent("runs/\(id).json").path)
                try fm.copyItem(atPath: "\(s.path)/surrogates/\(id)", toPath: out.appendingPathComponent("surrogates/\(id)").path)
                if let run = s.manifest.runs[id] { manifest.runs[id] = run }
            }
        }
        // Trained baseline defenses' victims are checked against the source's (reuseAttack).
        if fm.fileExists(atPath: first.path + "/baselines") {
            try fm.copyItem(atPath: first.path + "/baselines", toPath: out.appendingPathComponent("baselines").path)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: out.appendingPathComponent("manifest.json"))
        return summary
    }
}
