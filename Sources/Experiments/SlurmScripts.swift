import Foundation
import Formats

/// The scripts that run a grid on a Slurm cluster (`experiment slurm`), in `<out>/slurm/`:
///
///     configuration.json   the grid every job runs
///     prepare.sbatch       victim, key and the other shared artefacts (`ExperimentRunner.prepareShared`)
///     cells.sbatch         one array task per cell of the column it is given (`experiment run --cell ID`),
///                          costliest first; a task whose record exists exits 0 at once
///     finish.sbatch        checks every cell has its record, writes the complete manifest, `experiment report`
///     submit.sh            submits them with their dependencies and prints the job ids
///     logs/                each job's output
///
/// The undefended column's array waits for the prepare job. Every column's array lists the same
/// attacks and seeds in the same order, so each defended array waits task by task for the
/// undefended one (`aftercorr`): a defended cell starts once its partner, against whose surrogate
/// it is verified, has its record. The finishing job waits for all (`afterok`); a failed job
/// cancels what depends on it (`--kill-on-invalid-dep=yes`), and running `submit.sh` again resumes.
/// Every job passes `--threads`, so the records match a local `experiment run --threads N` bitwise.
public struct SlurmScripts {
    /// How the jobs run.
    public struct Options: Sendable {
        /// The `honeytrace` executable the jobs start (an absolute path every node can reach).
        public var binary: String
        /// Engine threads of every job (recorded in each run record).
        public var threads: Int
        /// CPUs Slurm gives each job (default: `threads`).
        public var cpusPerTask: Int?
        public var partition: String?
        /// Wall-time limit of each job, `[D-]HH:MM:SS`.
        public var time: String?
        /// Where the jobs run, so relative paths (data, a null pool) resolve as in a local run.
        public var workingDirectory: String

        public init(binary: String, threads: Int, cpusPerTask: Int? = nil, partition: String? = nil, time: String? = nil,
                    workingDirectory: String = FileManager.default.currentDirectoryPath) {
            self.binary = binary; self.threads = threads; self.cpusPerTask = cpusPerTask
            self.partition = partition; self.time = time; self.workingDirectory = workingDirectory
        }
    }

    public let configuration: ExperimentConfiguration
    /// The experiment directory (absolute).
    public let directory: String
    public let options: Options
    /// Each column's cell ids in array-task order, the undefended column first.
    public let columns: [(defense: String, cells: [String])]

    /// - Throws: `ExperimentError` naming the bad option or path, or when the directory holds
    ///   another configuration's runs or scripts.
    public init(runner: ExperimentRunner, options: Options) throws {
        configuration = runner.configuration
        directory = runner.directory.standardizedFileURL.path
        self.options = options
        try SlurmScripts.check(options, directory: directory)
        try runner.checkManifest()
        let ordered = ExperimentRunner.costOrder(runner.cells)
        var columns: [(defense: String, cells: [String])] = []
        for cell in ordered where !columns.contains(where: { $0.defense == cell.defense }) {
            columns.append((cell.defense, ordered.filter { $0.defense == cell.defense }.map(\.id)))
        }
        self.columns = columns
        let existing = slurmDirectory + "/configuration.json"
        if let data = FileManager.default.contents(atPath: existing) {
            let old = try? JSONDecoder().decode(ExperimentConfiguration.self, from: data)
            guard old == configuration else {
                throw ExperimentError("\(existing) holds another configuration ('\(old?.name ?? "unreadable")'); use a new --out directory")
            }
        }
    }

    var slurmDirectory: String { directory + "/slurm" }

    static func check(_ o: Options, directory: String) throws {
        guard o.binary.hasPrefix("/") else { throw ExperimentError("--binary '\(o.binary)': give an absolute path (every node starts it)") }
        guard FileManager.default.isExecutableFile(atPath: o.binary) else { throw ExperimentError("--binary '\(o.binary)': no executable there") }
        guard o.threads >= 1 else { throw ExperimentError("--threads \(o.threads): expected at least 1") }
        if let c = o.cpusPerTask, !(1...4096).contains(c) { throw ExperimentError("--cpus-per-task \(c): expected 1…4096") }
        if let p = o.partition, p.isEmpty || !p.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.,-".contains($0)) }) {
            throw ExperimentError("--partition '\(p)': expected a partition name (letters, digits, _ . - ; several separated by commas)")
        }
        if let t = o.time, !validTime(t) { throw ExperimentError("--time '\(t)': expected HH:MM:SS or D-HH:MM:SS (minutes and seconds below 60)") }
        for (what, path) in [("--out", directory), ("--binary", o.binary), ("working directory", o.workingDirectory)]
        where path.contains(where: { $0.isNewline }) {
            throw ExperimentError("\(what) '\(path)': a path with a line break cannot go into a job script")
        }
    }

    /// `[D-]HH:MM:SS` with minutes and seconds below 60.
    static func validTime(_ text: String) -> Bool {
        var rest = Substring(text)
        if let dash = rest.firstIndex(of: "-") {
            guard UInt(rest[..<dash]) != nil else { return false }
            rest = rest[rest.index(after: dash)...]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) }),
              let h = UInt(parts[0]), let m = UInt(parts[1]), let s = UInt(parts[2]) else { return false }
        return parts[1].count == 2 && parts[2].count == 2 && m < 60 && s < 60 && h < 100_000
    }

    /// `text` as one word in a POSIX shell (single quotes).
    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// `path` as Slurm reads an output file name (`%` starts a pattern; `%%` is a percent sign).
    static func slurmFileName(_ path: String) -> String { path.replacingOccurrences(of: "%", with: "%%") }

    /// The job names' prefix: `ht-<grid name>` in characters Slurm and file names take.
    var jobName: String {
        "ht-" + String(configuration.name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) ? $0 : "_" })
    }

    /// The directives and variables every job script starts with.
    func header(_ job: String, purpose: String) -> String {
        var lines = ["#!/bin/bash", "#SBATCH --job-name=\(jobName)-\(job)", "#SBATCH --cpus-per-task=\(options.cpusPerTask ?? options.threads)"]
        if let p = options.partition { lines.append("#SBATCH --partition=\(p)") }
        if let t = options.time { lines.append("#SBATCH --time=\(t)") }
        lines += [
            "# Honeytrace grid '\(configuration.name)': \(purpose)",
            "# Written by `honeytrace experiment slurm`; submit.sh submits it. Engine threads: \(options.threads)",
            "# (the records match a local `experiment run --threads \(options.threads)` bitwise).",
            "set -euo pipefail",
            "honeytrace=\(SlurmScripts.quoted(options.binary))",
            "out=\(SlurmScripts.quoted(directory))",
            "config=\"$out/slurm/configuration.json\"",
            "threads=\(options.threads)",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    var prepareScript: String {
        header("prepare", purpose: "trains the victim and makes the key and every shared artefact once.")
            + "exec \"$honeytrace\" experiment run \"$config\" --out \"$out\" --prepare-only --threads \"$threads\"\n"
    }

    var cellsScript: String {
        let names = columns.map(\.defense).joined(separator: ", ")
        var s = header("cells", purpose: "one array task per cell of a column, costliest first.")
        s += "# sbatch --array=0-<n-1> cells.sbatch COLUMN (COLUMN: \(names)); a task whose record exists exits 0 at once.\n"
        s += "case \"${1:-}\" in\n"
        for column in columns {
            s += "    \(SlurmScripts.quoted(column.defense))) cells=(\(column.cells.map(SlurmScripts.quoted).joined(separator: " "))) ;;\n"
        }
        s += """
            *) echo "cells.sbatch: expected a column (\(names)), found '${1:-}'" >&2; exit 64 ;;
        esac
        task=${SLURM_ARRAY_TASK_ID:-}
        if ! [[ "$task" =~ ^[0-9]+$ ]] || (( task >= ${#cells[@]} )); then
            echo "cells.sbatch: array task '$task' is not one of column $1's ${#cells[@]} cells (sbatch --array=0-$(( ${#cells[@]} - 1 )))" >&2
            exit 64
        fi
        cell=${cells[$task]}
        if [ -e "$out/runs/$cell.json" ]; then
            echo "$cell: its record exists; nothing to do"
            exit 0
        fi
        exec "$honeytrace" experiment run "$config" --out "$out" --cell "$cell" --threads "$threads"

        """
        return s
    }

    var finishScript: String {
        let all = columns.flatMap(\.cells)
        return header("finish", purpose: "the complete manifest and the report, once every cell has its record.") + """
        missing=()
        for cell in \(all.map(SlurmScripts.quoted).joined(separator: " ")); do
            [ -e "$out/runs/$cell.json" ] || missing+=("$cell")
        done
        if (( ${#missing[@]} > 0 )); then
            echo "finish.sbatch: cells without a record: ${missing[*]}; run submit.sh again to resume" >&2
            exit 1
        fi
        # Every cell has its record: this trains nothing and writes the manifest as a local run does.
        "$honeytrace" experiment run "$config" --out "$out" --threads "$threads"
        exec "$honeytrace" experiment report "$out"

        """
    }

    var submitScript: String {
        let q = SlurmScripts.quoted
        var s = """
        #!/bin/bash
        # Submits Honeytrace grid '\(configuration.name)' to Slurm and prints the job ids: the prepare job, one array
        # job per column (\(columns.map { "\($0.defense): \($0.cells.count)" }.joined(separator: ", ")) cells; each defended task waits
        # for its undefended partner), then the finishing job. Running it again resumes: finished cells exit at once.
        set -euo pipefail
        out=\(q(directory))
        slurm="$out/slurm"
        logs=\(q(SlurmScripts.slurmFileName(slurmDirectory + "/logs")))
        mkdir -p "$slurm/logs"
        submit() { sbatch --parsable --chdir=\(q(options.workingDirectory)) --kill-on-invalid-dep=yes "$@" | cut -d ';' -f 1; }
        prepare=$(submit --output="$logs/prepare-%j.out" "$slurm/prepare.sbatch")
        echo "prepare: job $prepare"

        """
        var arrays: [String] = []
        let undefended = columns.contains { $0.defense == "none" }
        for (i, column) in columns.enumerated() {
            let dependency = column.defense == "none" || !undefended ? "afterok:$prepare" : "aftercorr:$array0"
            s += "array\(i)=$(submit --dependency=\(dependency) --array=0-\(column.cells.count - 1) "
                + "--output=\"$logs/\(column.defense)-%A_%a.out\" \"$slurm/cells.sbatch\" \(q(column.defense)))\n"
            s += "echo \"\(column.defense): array job $array\(i) (\(column.cells.count) cells)\"\n"
            arrays.append("$array\(i)")
        }
        s += """
        finish=$(submit --dependency=afterok:\((["$prepare"] + arrays).joined(separator: ":")) --output="$logs/finish-%j.out" "$slurm/finish.sbatch")
        echo "finish: job $finish (the report: $out/table.md)"

        """
        return s
    }

    /// The files to write, by name in `<out>/slurm/`, and whether each is executable.
    public func files() throws -> [(name: String, text: String, executable: Bool)] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(configuration), as: UTF8.self)
        return [("configuration.json", json + "\n", false), ("prepare.sbatch", prepareScript, true),
                ("cells.sbatch", cellsScript, true), ("finish.sbatch", finishScript, true), ("submit.sh", submitScript, true)]
    }

    /// Writes the files (each to a temporary file renamed into place) and the logs directory;
    /// returns the path of `submit.sh`.
    @discardableResult
    public func write() throws -> String {
        try FileManager.default.createDirectory(atPath: slurmDirectory + "/logs", withIntermediateDirectories: true)
        for file in try files() {
            try AtomicFile.write(Data(file.text.utf8), to: slurmDirectory + "/" + file.name, permissions: file.executable ? 0o755 : 0o644)
        }
        return slurmDirectory + "/submit.sh"
    }
}
