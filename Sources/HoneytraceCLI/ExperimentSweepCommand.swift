import ArgumentParser
import Experiments
import Formats
import Foundation
import Training

extension ExperimentSweep.Parameter: ExpressibleByArgument {}

struct ExperimentSweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Move one setting over values, one grid per value (the paper's Fig. 7); render sweep-<parameter>.md, .csv, .json and .svg.",
        discussion: """
        The base grid (the configuration as given, heavy-client switch off, columns none and honeytrace, d \
        calibrated) runs first into OUT/base; then one grid per value into OUT/<parameter>-<value>. α (alpha), β \
        (beta), the gate and the query budget (queries) move at the base grid's d; d is set directly; \
        budget-points calibrates d to each accuracy budget. Every point but queries reuses the base grid's \
        undefended copies. Sweeps of other settings may share OUT and its base grid. Running the command again \
        resumes; values may be added to a sweep.
        """)

    @OptionGroup var grid: GridOptions
    @Option(help: "The setting to move: queries, d, alpha, beta, gate (0 = no gate) or budget-points.") var parameter: ExperimentSweep.Parameter
    @Option(help: "Its values, comma-separated (e.g. 0.5,1,2,4).") var values: String
    @Option(help: "Keep only these attack rows (comma-separated ids <pool>--<strategy>--<variant>, e.g. mnist-5k--knockoff--naive).") var rows: String?
    @Option(help: "Output directory.") var out: String
    @Option(help: "Worker processes per grid (as experiment run --jobs).") var jobs = 1
    @Flag(help: "Only render the figures of the grids already run.") var reportOnly = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        guard (1...ComputeOptions.maxThreads).contains(jobs) else { throw ValidationError("--jobs \(jobs): expected 1…\(ComputeOptions.maxThreads)") }
        let parsed = try values.split(separator: ",", omittingEmptySubsequences: false).map { text -> Double in
            guard let v = Double(text.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--values: '\(text)' is not a number") }
            return v
        }
        let rowIDs = rows.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let sweep = try ExperimentSweep(parameter: parameter, values: parsed, configuration: try grid.load(), rows: rowIDs)
        try sweep.claim(directory: out)
        func path(_ name: String) -> String { (out as NSString).appendingPathComponent(name) }
        if !reportOnly {
            try runPoint(sweep.base, name: "base", reuse: nil)
            let d = try ExperimentSweep.baseOffset(in: out)
            for value in sweep.values {
                ProgressBar.writeLine("sweep: \(sweep.pointName(value))")
                try runPoint(sweep.configuration(for: value, baseOffset: d, directory: out), name: sweep.pointName(value),
                             reuse: sweep.reusesUndefendedCopies ? path("base") : nil)
            }
        }
        let report = try SweepReport.read(sweep: sweep, directory: out, baseOffset: try ExperimentSweep.baseOffset(in: out))
        try report.write(to: out)
        print(report.markdown(), terminator: "")
        print("wrote \(out)/\(report.stem).md, .csv, .json and .svg")
    }

    /// Runs one point's grid from its configuration file `<out>/<name>.json` (what its workers read).
    func runPoint(_ configuration: ExperimentConfiguration, name: String, reuse: String?) throws {
        let file = (out as NSString).appendingPathComponent(name + ".json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(configuration), to: file)
        try ExperimentRun.runGrid(configuration, gridArguments: [file], out: (out as NSString).appendingPathComponent(name), jobs: jobs,
                                  threads: compute.threads, reuseAttacksFrom: reuse, undefendedOnly: reuse != nil)
    }
}
