import ArgumentParser
import Baselines
import Datasets
import Foundation
import Honeytrace
import HoneytraceServer
import Prediction
import Training

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Test whether suspect models carry a watermark: verdict, p-value, score and queries spent, one result per suspect.",
        discussion: """
            With --key, fresh triggers and paired controls come from --data's owner-validation part (Fashion-MNIST: train[45000..<50000]). \(OwnershipVerifier.decisionRule).

            Suspects: SUSPECT arguments (model directories or http(s) URLs), then --suspect, --endpoint and --answers, in that \
            order. One suspect prints its full result (one JSON object with --json); several print a table (a JSON array of \
            one object per suspect), and a suspect that cannot be verified is reported in its row (verdict "error") while the \
            others are still verified.

            Offline (--key only): --export-queries DIR writes the queries a verification sends, and --answers FILE takes a \
            suspect's answers to them; the verdict is the one a live query giving those answers would get.

            Exit status: \(VerdictRecord.exitNotStolen) when every suspect is "not stolen", \(VerdictRecord.exitStolen) when at \
            least one is "stolen", \(VerdictRecord.exitError) when verification could not run (an unreadable key or model, an \
            unreachable endpoint, a malformed answers file) for any suspect, even if another is "stolen", 64 for a usage error.
            """)

    static let defaultPairs = 500
    static let defaultSeed: UInt64 = 1

    @Argument(help: "Suspects: model directories or http(s) URLs of prediction APIs (several give one result each).")
    var suspects: [String] = []
    @Option(help: "Suspect model directory (repeatable).") var suspect: [String] = []
    @Option(help: "Suspect behind a Honeytrace-compatible prediction API (e.g. http://host:8080; repeatable); its top-1 answers are used.")
    var endpoint: [String] = []
    @Option(help: "API key for URL suspects and references (default: $HONEYTRACE_API_KEY).") var apiKey: String?
    @Option(help: "Watermark key (Neural Honeytrace).") var key: String?
    @Option(help: "PROWN trigger set (from `honeytrace prown create`): decide by trigger accuracy against null models instead of a key.")
    var prown: String?
    @Option(help: "A trained baseline's model directory (`honeytrace baseline train`: composite, mea-defender or ewe): decide by the share of its fresh triggers, made from --data's owner-validation part, answered with its target, against --null-pool.")
    var baseline: String?
    @OptionGroup var triggerSetOptions: TriggerSetVerifyOptions
    @Option(help: "A client's DAWN log (`honeytrace dawn export-log`): verify DAWN instead of a key; --reference models act as null models.")
    var dawnLog: String?
    @Option(help: "Reference models that never saw the defended API: model directories or endpoint URLs.") var reference: [String] = []
    @Option(help: "Significance level: the false-claim rate a 'stolen' verdict accepts.") var alpha = 1e-4
    @Option(help: "Least null rate of the binomial test when references are given (default: 1/K, chance; 0: the references' rate alone, docs/algorithms.md §4).")
    var nullFloor: Double?
    @Option(help: "Trigger/control pairs (default \(VerifyCommand.defaultPairs); with --answers, the export's).") var pairs: Int?
    @Flag(help: "Query in batches of 20 pairs and stop as soon as the evidence suffices.") var sequential = false
    @Option(help: "Seed of the fresh triggers (default \(VerifyCommand.defaultSeed); with --answers, the export's).") var seed: UInt64?
    @Option(help: "With --key: write the trigger and control images a verification would send into DIR (new or empty), with a signed manifest, and verify nothing.")
    var exportQueries: String?
    @Option(help: "With --key: a suspect's answers to exported queries (CSV index,label or JSON labels or probability rows; repeatable).")
    var answers: [String] = []
    @Option(help: "With --answers: the --export-queries directory (default: the directory of the answers file).") var queries: String?
    @Option(help: "With --key: a signed evidence bundle (`honeytrace ledger export`) to attach; each report gains its client, entry count, head hash and check result.")
    var evidence: String?
    @Option(help: "The bundle signer's public key file (default: the key inside the bundle, which shows integrity but not who signed).")
    var evidencePublicKey: String?
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print a Markdown table, one row per suspect (with --key: verdict, binomial and McNemar p-values, raw WSR, controls answered the target, null rate).")
    var markdown = false
    @OptionGroup var dataSet: DataSetOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard [key, dawnLog, prown, baseline].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --key KEY, --dawn-log FILE, --prown FILE and --baseline DIR")
        }
        if baseline != nil && triggerSetOptions.nullPool == nil {
            throw ValidationError("--baseline DIR needs --null-pool DIR: its verdict is the trigger accuracy against models that never saw the API")
        }
        if key == nil {
            for (flag, given) in [("--export-queries", exportQueries != nil), ("--answers", !answers.isEmpty), ("--queries", queries != nil)] where given {
                throw ValidationError("\(flag) goes with --key KEY (offline verification of Neural Honeytrace)")
            }
        }
        if exportQueries != nil {
            guard suspects.isEmpty && suspect.isEmpty && endpoint.isEmpty && answers.isEmpty else {
                throw ValidationError("--export-queries DIR writes the queries and verifies nothing; give no suspect or --answers with it")
            }
            return
        }
        guard !(suspects.isEmpty && suspect.isEmpty && endpoint.isEmpty && answers.isEmpty) else {
            throw ValidationError("give at least one suspect: SUSPECT arguments (model directories or URLs), --suspect DIR, --endpoint URL or --answers FILE")
        }
        if json && markdown { throw ValidationError("give at most one of --json and --markdown") }
        if queries != nil && answers.isEmpty { throw ValidationError("--queries DIR goes with --answers FILE") }
        guard evidence != nil || evidencePublicKey == nil else { throw ValidationError("--evidence-public-key goes with --evidence BUNDLE") }
        guard evidence == nil || key != nil else { throw ValidationError("--evidence BUNDLE goes with --key KEY") }
        if let pairs, pairs < 1 { throw ValidationError("--pairs must be at least 1, found \(pairs)") }
        if let nullFloor, !(nullFloor >= 0 && nullFloor < 1) { throw ValidationError("--null-floor \(nullFloor) must lie in [0, 1)") }
        if prown != nil || baseline != nil, !(triggerSetOptions.falseClaimRate > 0 && triggerSetOptions.falseClaimRate < 1) {
            throw ValidationError("--false-claim-rate \(triggerSetOptions.falseClaimRate) must lie in (0, 1)")
        }
    }

    /// A suspect as given on the command line.
    enum Source {
        /// A model directory or an http(s) URL.
        case location(String)
        /// Always an endpoint URL.
        case endpoint(String)
        /// A file of answers to exported queries.
        case answers(String)

        var name: String {
            switch self { case .location(let s), .endpoint(let s), .answers(let s): return s }
        }
    }

    var sources: [Source] {
        (suspects + suspect).map(Source.location) + endpoint.map(Source.endpoint) + answers.map(Source.answers)
    }

    /// A local model directory, or an HTTP endpoint when `location` is an http(s) URL.
    func openSuspect(_ location: String) throws -> PredictionAPI {
        let lower = location.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") { return try HTTPPredictionAPI(url: location, apiKey: apiKey) }
        return try ModelAPI(directory: location, answerMode: .label)
    }

    /// The suspect behind a location or an endpoint (answers files are the key's: `keyVerifier`).
    func openLive(_ source: Source) throws -> PredictionAPI {
        if case .endpoint(let url) = source { return try HTTPPredictionAPI(url: url, apiKey: apiKey) }
        return try openSuspect(source.name)
    }

    /// One suspect's record and the lines that show it alone.
    typealias Result = (record: VerdictRecord, lines: [String])

    func run() throws {
        compute.apply()
        if let exportQueries { try runExport(exportQueries); return }
        let verifyOne: (Source) throws -> Result
        if let prown { verifyOne = try prownVerifier(prown) }
        else if let baseline { verifyOne = try baselineVerifier(baseline) }
        else if let dawnLog { verifyOne = try dawnVerifier(dawnLog) }
        else { verifyOne = try keyVerifier(key!) }
        let all = sources
        var results: [Result] = []
        for source in all {
            if all.count == 1 { results.append(try verifyOne(source)); break }  // one suspect: its error is the command's
            do { results.append(try verifyOne(source)) } catch {
                // Errors about a suspect mostly name it already.
                let message = "\(error)".contains(source.name) ? "\(error)" : "\(source.name): \(error)"
                FileHandle.standardError.write(Data("honeytrace verify: \(message)\n".utf8))
                results.append((VerdictRecord(suspect: source.name, error: message), []))
            }
        }
        let records = results.map(\.record)
        if markdown {
            printMarkdown(records)
        } else if json {
            if records.count == 1 { try printJSON(records[0]) } else { try printJSON(records) }
        } else if results.count == 1 {
            results[0].lines.forEach { print($0) }
        } else {
            printTable(records)
        }
        let status = VerdictRecord.exitStatus(of: records)
        if status != VerdictRecord.exitNotStolen { throw ExitCode(status) }
    }

    // MARK: Neural Honeytrace

    private func keyVerifier(_ keyPath: String) throws -> (Source) throws -> Result {
        // Read and checked before any query is spent: a malformed bundle or key file stops here.
        let attached = try evidence.map { path in
            try EvidenceBundle.load(path).check(trustedKey: try evidencePublicKey.map(LedgerSigningKey.loadPublicKey), path: path)
        }
        if let attached, !attached.valid {
            FileHandle.standardError.write(Data("warning: the evidence bundle \(attached.bundle) does not check: \(attached.problem ?? "")\n".utf8))
        }
        let k = try WatermarkKey.load(keyPath)
        let heldOut = try dataSet.ownerHeldOut()
        let offline = try answers.isEmpty ? nil : openExport(key: k, heldOut: heldOut)
        let triggers = try offline?.triggers
            ?? TriggerSet.make(key: k, heldOut: heldOut, count: pairs ?? VerifyCommand.defaultPairs, seed: seed ?? VerifyCommand.defaultSeed)
        var verifier = try OwnershipVerifier(key: k, triggers: triggers, alpha: alpha)
        if let nullFloor { verifier.nullRateFloor = nullFloor }
        let references = try reference.map { try verifier.answers(of: try openSuspect($0)) }  // asked once for every suspect
        return { [verifier, sequential] source in
            let api: PredictionAPI
            if case .answers(let file) = source, let offline {
                api = try offline.recordedSuspect(try AnswerFile.load(file, count: offline.count, classes: k.classes), classes: k.classes)
            } else {
                api = try openLive(source)
            }
            var report = sequential ? try verifier.verifySequential(suspect: api, answered: references)
                                    : try verifier.analyze(suspect: try verifier.answers(of: api), references: references)
            report.evidenceBundle = attached
            return (VerdictRecord(suspect: source.name, evidence: report.evidence, report: report), VerifyCommand.lines(report))
        }
    }

    /// The exported queries the --answers files answer (one export for all), checked under the key.
    private func openExport(key k: WatermarkKey, heldOut: ImageDataset) throws -> OfflineQueries {
        let directories = Set(answers.map { queries ?? URL(fileURLWithPath: $0).deletingLastPathComponent().path })
        guard directories.count == 1, let directory = directories.first else {
            throw ValidationError("the answers files lie in different directories (\(directories.sorted().joined(separator: ", "))); give the export with --queries DIR")
        }
        let (exported, manifest) = try QueryExport.open(directory, key: k, heldOut: heldOut)
        if let pairs, pairs != manifest.signed.pairs {
            throw ValidationError("--pairs \(pairs), but the exported queries in \(directory) hold \(manifest.signed.pairs) pairs")
        }
        if let seed, seed != manifest.signed.seed {
            throw ValidationError("--seed \(seed), but the exported queries in \(directory) were made with seed \(manifest.signed.seed)")
        }
        return exported
    }

    static func lines(_ report: VerificationReport) -> [String] {
        var out = ["verdict          \(report.verdict.rawValue)",
                   "p-value          \(String(format: "%.3e", report.pValue)) (binomial \(String(format: "%.3e", report.binomialPValue)), McNemar \(String(format: "%.3e", report.mcnemarPValue))\(report.welchPValue.map { String(format: ", Welch %.3e", $0) } ?? ""))",
                   "WSR raw          \(percent(report.rawWSR)) (\(report.triggerHits) of \(report.pairs) triggers answered \(report.target))"]
        if let e = report.exclusiveWSR { out.append("WSR exclusive    \(percent(e))") }
        out.append("WSR specific     \(percent(report.specificWSR)) (controls answered \(report.target): \(percent(report.controlRate)))")
        out.append("queries spent    \(report.queriesSpent)")
        if let e = report.evidenceBundle {
            out.append("evidence         client '\(e.client)': \(e.entries) entries, head #\(e.headID) \(e.headHash); signature \(e.signatureValid ? "valid" : "INVALID")\(e.keyTrusted ? "" : " (bundle's own key)"), chain \(e.chainIntact ? "intact" : "BROKEN")")
        }
        return out
    }

    private func runExport(_ directory: String) throws {
        let k = try WatermarkKey.load(key!)
        let heldOut = try dataSet.ownerHeldOut()
        let s = seed ?? VerifyCommand.defaultSeed
        let triggers = try TriggerSet.make(key: k, heldOut: heldOut, count: pairs ?? VerifyCommand.defaultPairs, seed: s)
        let manifest = try QueryExport.write(OfflineQueries(triggers: triggers, secret: k.secret, seed: s), key: k,
                                             heldOut: DataFingerprint(heldOut), to: directory)
        if json { try printJSON(manifest); return }
        let m = manifest.signed
        print("wrote \(directory): \(m.queries) queries (\(m.pairs) trigger/control pairs, seed \(m.seed), key \(m.keyFingerprint))")
        print("  \(QueryExport.batchName) (float32 \([m.queries] + m.imageShape), the exact pixels), \(m.images.count) PNGs in \(QueryExport.imageDirectory)/, \(QueryExport.manifestName) (HMAC-SHA256 signed)")
        print("  answer them, then: honeytrace verify --key \(key!) --answers ANSWERS --queries \(directory)")
    }

    // MARK: Table

    /// The false-claim table of docs/results/verify-foreign.sh: one row per suspect; figures a
    /// watermark does not report (PROWN, DAWN) read "—", as do those of a suspect that failed.
    /// One Markdown row per suspect: a key's figures (specific WSR beside raw and controls) when
    /// the report is a key's, the common verdict fields otherwise.
    private func printMarkdown(_ records: [VerdictRecord]) {
        print("| suspect | verdict | p binomial | p McNemar | WSR raw | controls → t | null rate | WSR specific | queries |")
        print("|---|---|---|---|---|---|---|---|---|")
        let p = { (x: Double) in String(format: "%.2g", x) }, pct = { (x: Double) in String(format: "%.1f %%", 100 * x) }
        for r in records {
            if let v = r.report(as: VerificationReport.self) {
                print("| \(r.suspect) | \(r.verdict) | \(p(v.binomialPValue)) | \(p(v.mcnemarPValue)) | \(pct(v.rawWSR)) | \(pct(v.controlRate)) | \(String(format: "%.3f", v.nullRate)) | \(pct(v.specificWSR)) | \(v.queriesSpent) |")
            } else if let e = r.evidence {
                print("| \(r.suspect) | \(r.verdict) | \(p(e.pValue)) | — | — | — | — | — | \(e.queries) |")
            } else {
                print("| \(r.suspect) | error | — | — | — | — | — | — | — |")
            }
        }
        for r in records { if let error = r.error { print("\n- error: \(error)") } }
    }

    private func printTable(_ records: [VerdictRecord]) {
        let header = ["suspect", "verdict", "p-value", "score", "queries"]
        let rows = records.map { r -> [String] in
            guard let e = r.evidence else { return [r.suspect, "error", "—", "—", "—"] }
            return [r.suspect, e.verdict, String(format: "%.3e", e.pValue), "\(percent(e.value)) \(e.statistic)", String(e.queries)]
        }
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        for row in [header] + rows {
            print(row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  "))
        }
        for r in records { if let error = r.error { print(error) } }
    }
}
