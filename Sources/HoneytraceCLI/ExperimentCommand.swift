import ArgumentParser
import Experiments
import Extraction
import Foundation
import NeuralNet
import Training

struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run attack × defense grids and render the paper-style table, CSV and plot.",
        subcommands: [ExperimentRun.self, ExperimentSlurmCommand.self, ExperimentReportCommand.self, ExperimentCompareCommand.self,
                      ExperimentNullPoolCommand.self, ExperimentRemovalCommand.self, ExperimentSweepCommand.self, ExperimentScanCommand.self,
                      ExperimentVerifyCommand.self, ExperimentCombineCommand.self, ExperimentDDPMCommand.self])
}

struct ExperimentRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a grid (a JSON configuration or a preset) into a directory; finished runs are skipped.")

    @OptionGroup var grid: GridOptions
    @Option(help: "Output directory.") var out: String
    @Option(help: "Run only shard i of n (e.g. 1/2).") var shard = "1/1"
    @Option(help: ArgumentHelp("Reuse the attacks of this earlier experiment directory and verify their surrogates again.", discussion: """
        Every random choice is seeded, so with the same victim weights and attack settings (pool, budget, surrogate \
        epochs, JBDA seed size, test limit; checked) an attack trains the same surrogate. An undefended attack never \
        touches the key, so any key's experiment serves; a defended one also needs the same key, recipe and defense \
        settings. The surrogate and attack figures are copied and verified by this run; each record names its source.
        """)) var reuseAttacksFrom: String?
    @Flag(help: "With --reuse-attacks-from: reuse only the undefended attacks (e.g. for a new key or defense).") var undefendedOnly = false
    @Flag(help: "Print the configuration as JSON and stop.") var printConfig = false
    @Option(help: ArgumentHelp("Worker processes sharing the grid's cells.", discussion: """
        With N > 1 the victim and key are prepared first, then N processes take the cells one at a time, \
        costliest first, undefended before defended (a defended cell waits for its undefended partner), \
        each with max(1, --threads / N) engine threads: on 2 cores, --jobs 2 runs two cells at once on one \
        thread each. Results depend on the thread count, so a cell matches a --jobs 1 run with --threads 1 \
        bitwise, not one with --threads 2; every record names its threads and machine. Ctrl-C stops the \
        workers; running the command again resumes from the finished records. With --shard, the workers \
        share that shard's cells (an undefended partner from another shard is claimed before it runs); \
        a run without --jobs does not look at claims.
        """)) var jobs = 1
    @Option(help: ArgumentHelp("Run only this cell: its index (0-based, undefended cells first, in the configuration's order) or its id.",
                               discussion: """
        What one Slurm array task runs (`experiment slurm`). A defended cell whose undefended partner has no \
        surrogate yet runs the partner first; a cell whose record exists is read, not run.
        """)) var cell: String?
    @Flag(help: "Only prepare what every cell shares (victim, key, calibrations, baselines, the manifest) and stop.") var prepareOnly = false
    @Option(help: .hidden) var worker: String?
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let configuration = try grid.load()
        if printConfig { try printJSON(configuration); return }
        let parts = shard.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] >= 1, parts[0] >= 1, parts[0] <= parts[1] else {
            throw ValidationError("--shard '\(shard)': expected i/n with 1 ≤ i ≤ n")
        }
        // Bounded like --threads: each job is a process started at once.
        guard (1...ComputeOptions.maxThreads).contains(jobs) else {
            throw ValidationError("--jobs \(jobs): expected 1…\(ComputeOptions.maxThreads)")
        }
        if cell != nil || prepareOnly {
            guard shard == "1/1", jobs == 1, worker == nil, !(cell != nil && prepareOnly) else {
                throw ValidationError("--cell and --prepare-only each go alone: not with each other, --shard or --jobs")
            }
        }
        try Self.runGrid(configuration, gridArguments: grid.arguments, out: out, shard: (parts[0], parts[1]), jobs: jobs,
                         threads: compute.threads, reuseAttacksFrom: reuseAttacksFrom, undefendedOnly: undefendedOnly,
                         worker: worker, cell: cell, prepareOnly: prepareOnly)
    }

    /// Runs a grid into `out`: in this process, or with `jobs` > 1 in worker processes that each run
    /// `experiment run <gridArguments> --out … --worker i/n` (the grid options that name `configuration`).
    static func runGrid(_ configuration: ExperimentConfiguration, gridArguments: [String], out: String, shard: (Int, Int) = (1, 1),
                        jobs: Int, threads: Int, reuseAttacksFrom: String? = nil, undefendedOnly: Bool = false,
                        worker: String? = nil, cell: String? = nil, prepareOnly: Bool = false) throws {
        if worker != nil { ExperimentWorkers.adoptParentPriority() }
        let prefix = worker.map { "[worker \($0)] " } ?? ""
        let runner = try ExperimentRunner(configuration: configuration, directory: out, shard: (shard.0 - 1, shard.1),
                                          log: { ProgressBar.writeLine(prefix + $0) })
        if undefendedOnly && reuseAttacksFrom == nil { throw ValidationError("--undefended-only needs --reuse-attacks-from DIR") }
        runner.attackSource = reuseAttacksFrom
        runner.undefendedOnly = undefendedOnly
        runner.claimsCells = worker != nil
        // A bar for the running attack on a terminal; workers share one, so they keep to log lines.
        if worker == nil && jobs == 1 && isatty(2) == 1 {
            var bar: (key: String, bar: ProgressBar)?
            runner.attackProgress = { cell, p in
                let key = "\(cell) \(p.phase.rawValue)"
                if bar?.key != key { bar = (key, ProgressBar(title: "  " + p.phase.rawValue, total: p.total)) }
                bar?.bar.update(p.done, status: p.message)
            }
        }
        if prepareOnly {
            try runner.prepareShared()
            print("\(out): victim, key and shared artefacts ready")
            return
        }
        if let cell {
            let record = try runner.runCell(try runner.cellIndex(cell))
            print("\(record.id): \(out)/runs/\(record.id).json")
            return
        }
        if jobs > 1 && worker == nil {
            try runner.prepareShared()
            var arguments = ["experiment", "run"] + gridArguments
            arguments += ["--out", out, "--shard", "\(shard.0)/\(shard.1)", "--threads", String(max(1, threads / jobs))]
            if let reuseAttacksFrom { arguments += ["--reuse-attacks-from", reuseAttacksFrom] }
            if undefendedOnly { arguments.append("--undefended-only") }
            try ExperimentWorkers.run(count: jobs, arguments: arguments, log: { ProgressBar.writeError($0 + "\n") })
        }
        let records = try runner.run()
        if worker != nil { return }
        print("\(records.count) runs in \(out)/runs; render them with: honeytrace experiment report \(out)")
    }
}

struct ExperimentReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render table.md, table.csv, fig6.svg and evidence.svg (each plot with its CSV) from the run records of one experiment directory or several.",
        discussion: """
            Several directories (e.g. one grid per victim seed) make one table: a cell with runs from several \
            directories gives their mean ± standard deviation, table.csv keeps one line per run with its seeds, \
            and the section on the copies worth stealing takes the smallest evidence of any single copy.
            """)

    @Argument(help: "Experiment directories.") var directories: [String]
    @Option(help: "Where to write the report (default: the directory, when only one is given).") var out: String?
    @Option(help: "Table title.") var title: String?

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("give at least one experiment directory") }
        guard out != nil || directories.count == 1 else { throw ValidationError("--out is needed to report several directories") }
    }

    func run() throws {
        let output = out ?? directories[0]
        print(try ExperimentReport.render(directories: directories, into: output, title: title))
        print("wrote \(output)/table.md, table.csv, fig6.svg, fig6.csv, evidence.svg and evidence.csv")
    }
}

struct ExperimentCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "One Markdown table across experiment directories: each run with its key's recipe and defense settings.")

    @Argument(help: "Experiment directories.") var directories: [String]
    @Option(help: "Also write the rows as CSV here.") var csv: String?

    func run() throws {
        print(try ExperimentComparison.render(directories: directories, csvPath: csv), terminator: "")
    }
}

struct ExperimentNullPoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "null-pool",
        abstract: "Train the models that never saw the API, against which grids count false claims (resumable).")

    @Option(help: "Directory of the pool (one model directory per member).") var out: String
    @Option(help: "Members (at least 20 for a reported grid).") var count = 24
    @Option(help: "Architectures, taken in turn (comma-separated).") var architectures = "fmnist-cnn,resnet-8"
    @Option(help: ArgumentHelp("Train the members on this data set's train part (a data-set description) instead of Fashion-MNIST.", discussion: """
        For grids on an owner's own data set (`experiment run --data`): each member draws its images from the \
        description's train part and is measured on its test part. The pool records the description's digests \
        (data.json) and refuses members trained on other data.
        """)) var data: String?
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let archs = try architectures.split(separator: ",").map { name -> Architecture in
            guard let a = Architecture(rawValue: String(name)) else {
                throw ValidationError("--architectures: '\(name)' is not one of \(Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return a
        }
        let pool = try NullPool.standard(directory: out, count: count, architectures: archs, dataSet: data.map { ExperimentDataSet(path: $0) })
        var bar: ProgressBar?
        let trained = try pool.build(log: { ProgressBar.writeError($0 + "\n") }, onProgress: { p in
            if p.batch == 1 { bar = ProgressBar(title: "epoch \(p.epoch)/\(p.epochs)", total: p.batches) }
            bar?.update(p.batch, status: String(format: "loss %.4f acc %.2f%% %.0f img/s", p.loss, 100 * p.accuracy, p.imagesPerSecond))
        })
        print("\(out): \(pool.members.count) null models (\(trained) trained now)")
    }
}
