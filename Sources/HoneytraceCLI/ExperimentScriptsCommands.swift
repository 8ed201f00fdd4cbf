import ArgumentParser
import Experiments
import Foundation
import Prediction

/// `experiment verify DIR`: every surrogate of a grid verified as an owner would (formerly
/// docs/results/fmnist/verify-sequential.sh).
struct ExperimentVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify every surrogate of an experiment directory with its key; print a Markdown table.",
        discussion: """
            The reference of a defended surrogate is the undefended API's surrogate from the same attack \
            (surrogates/none--<attack>--<variant>--s<seed>), that of an undefended one the victim (DIR/victim \
            unless --victim). Triggers come from --data's owner-validation part, as with `verify`. One row per \
            surrogate: verdict, queries spent (triggers + controls), binomial and McNemar p-values, raw and \
            specific WSR. A surrogate that cannot be verified gets an error row; the others are still verified.

            Exit status: \(VerdictRecord.exitNotStolen) when every surrogate is "not stolen", \(VerdictRecord.exitStolen) \
            when at least one is "stolen", \(VerdictRecord.exitError) when any could not be verified (or DIR is not an \
            experiment directory), 64 for a usage error.
            """)

    @Argument(help: "Experiment directory (from `experiment run`).") var directory: String
    @Option(help: "The victim's model directory: the reference of undefended surrogates (default: DIR/victim).") var victim: String?
    @Flag(help: "Query in batches of 20 pairs and stop as soon as the evidence suffices.") var sequential = false
    @Option(help: "Trigger/control pairs (at most, with --sequential).") var pairs = VerifyCommand.defaultPairs
    @Option(help: "Seed of the fresh triggers.") var seed = VerifyCommand.defaultSeed
    @Option(help: "Significance level: the false-claim rate a 'stolen' verdict accepts.") var alpha = 1e-4
    @Flag(help: "Print a JSON array (one verify record per surrogate, with its reference) instead of the table.") var json = false
    @Option(help: "Also write the Markdown table to this file.") var out: String?
    @Option(help: "Also write the figures, unrounded, as CSV to this file.") var csv: String?
    @OptionGroup var dataSet: DataSetOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard pairs >= 1 else { throw ValidationError("--pairs must be at least 1, found \(pairs)") }
    }

    struct Record: Encodable {
        var surrogate: String
        var reference: String
        var record: VerdictRecord
        func encode(to encoder: Encoder) throws {
            try record.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(surrogate, forKey: .surrogate)
            try c.encode(reference, forKey: .reference)
        }
        enum Keys: String, CodingKey { case surrogate, reference }
    }

    func run() throws {
        compute.apply()
        _ = try ExperimentVerification.plan(directory: directory, victim: victim)  // a wrong directory fails before data loads
        let rows = try ExperimentVerification.run(directory: directory, victim: victim, heldOut: try dataSet.ownerHeldOut(), pairs: pairs,
                                                  seed: seed, alpha: alpha, sequential: sequential) {
            FileHandle.standardError.write(Data("verifying \($0)\n".utf8))
        }
        let records = rows.map { r -> VerdictRecord in
            if let report = r.report { return VerdictRecord(suspect: r.surrogate, evidence: report.evidence, report: report) }
            FileHandle.standardError.write(Data("honeytrace experiment verify: \(r.error ?? "error")\n".utf8))
            return VerdictRecord(suspect: r.surrogate, error: r.error ?? "error")
        }
        let table = ExperimentVerification.markdown(rows)
        if json {
            try printJSON(zip(rows, records).map { Record(surrogate: $0.id, reference: $0.reference, record: $1) })
        } else {
            print(table, terminator: "")
        }
        if let out { try Data(table.utf8).write(to: URL(fileURLWithPath: out)) }
        if let csv { try Data(ExperimentVerification.csv(rows).utf8).write(to: URL(fileURLWithPath: csv)) }
        let status = VerdictRecord.exitStatus(of: records)
        if status != VerdictRecord.exitNotStolen { throw ExitCode(status) }
    }
}

/// `experiment combine --out SRC DIR…`: one source directory for `experiment run
/// --reuse-attacks-from` from several experiments (formerly the combine.sh scripts).
struct ExperimentCombineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "combine",
        abstract: "Gather the records and surrogates of several experiment directories into one source for --reuse-attacks-from.",
        discussion: """
            Each source is DIR (every cell) or DIR:GLOB[,GLOB…] (the cells whose id matches a shell glob, e.g. \
            'runs/a:*--knockoff--naive--s0' or 'runs/b:*--s[12]'). The sources must have attacked the same victim with \
            the same attack settings (pool, attacker data, budget, surrogate epochs, JBDA seed size, test limit) and, \
            when any defended cell is taken, with the same key and defense settings. A cell id found in several sources \
            must have identical records. The combined manifest is the first source's with every taken cell's run; \
            the first source's baselines/ are copied. OUT must be new or empty; on an error nothing is written.
            """)

    @Option(help: "The source directory to write (new or empty).") var out: String
    @Argument(help: "Experiment directories, each optionally with :GLOB[,GLOB…] selecting its cells.") var sources: [String]
    @Flag(help: "Print JSON (cells per source).") var json = false

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("give at least one experiment directory to combine") }
    }

    func run() throws {
        let summary = try ExperimentCombination.combine(sources.map(ExperimentCombination.Selection.init(argument:)), into: out)
        if json {
            struct Gathered: Encodable { var source: String; var cells: [String] }
            try printJSON(summary.cells.map { Gathered(source: $0.source, cells: $0.ids) })
            return
        }
        print("wrote \(out): \(summary.total) cells")
        for (source, ids) in summary.cells { print("  \(source): \(ids.count) (\(ids.joined(separator: ", ")))") }
    }
}
