import ArgumentParser
import Datasets
import Foundation
import Honeytrace
import HoneytraceServer
import Prediction
import Training

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Test whether a suspect model carries the key's watermark: verdict, p-value, WSR and queries spent.",
        discussion: """
            Fresh triggers and paired controls come from the Fashion-MNIST test set. \(OwnershipVerifier.decisionRule).

            Exit status: 0 when the verdict is "stolen", \(VerifyCommand.notStolen.rawValue) when it is "not stolen", 1 when \
            verification could not run (an unreadable key or model, an unreachable endpoint), 64 for a usage error.
            """)

    /// The exit status of a completed verification whose verdict is "not stolen", so that scripts
    /// can branch on the verdict without parsing the output.
    static let notStolen = ExitCode(2)

    @Option(help: "Suspect model directory.") var suspect: String?
    @Option(help: "Suspect behind a Honeytrace-compatible prediction API (e.g. http://host:8080); its top-1 answers are used.")
    var endpoint: String?
    @Option(help: "API key for --endpoint and URL references (default: $HONEYTRACE_API_KEY).") var apiKey: String?
    @Option(help: "Watermark key (not with --prown).") var key: String?
    @Option(help: "PROWN trigger set (from `honeytrace prown create`): decide by trigger accuracy against null models instead of a key.")
    var prown: String?
    @Argument(help: "With --prown: the suspect model directory (or --suspect / --endpoint).") var suspectDirectory: String?
    @OptionGroup var prownOptions: PrownVerifyOptions
    @Option(help: "A client's DAWN log (`honeytrace dawn export-log`): verify DAWN instead of a key; --reference models act as null models.")
    var dawnLog: String?
    @Option(help: "Reference models that never saw the defended API: model directories or endpoint URLs.") var reference: [String] = []
    @Option(help: "Significance level.") var alpha = 1e-4
    @Option(help: "Least null rate of the binomial test when references are given (default: 1/K, chance; 0: the references' rate alone, docs/algorithms.md §4).")
    var nullFloor: Double?
    @Option(help: "Trigger/control pairs.") var pairs = 500
    @Flag(help: "Query in batches of 20 pairs and stop as soon as the evidence suffices.") var sequential = false
    @Option(help: "Seed of the fresh triggers.") var seed: UInt64 = 1
    @Option(help: "A signed evidence bundle (`honeytrace ledger export`) to attach: the report gains its client, entry count, head hash and check result.")
    var evidence: String?
    @Option(help: "The bundle signer's public key file (default: the key inside the bundle, which shows integrity but not who signed).")
    var evidencePublicKey: String?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard [key, dawnLog, prown].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --key KEY, --dawn-log FILE and --prown FILE")
        }
        guard evidence != nil || evidencePublicKey == nil else { throw ValidationError("--evidence-public-key goes with --evidence BUNDLE") }
        guard evidence == nil || key != nil else { throw ValidationError("--evidence BUNDLE goes with --key KEY") }
        if prown != nil { try validatePrown(); return }
        guard suspectDirectory == nil else { throw ValidationError("a positional suspect goes with --prown FILE; give --suspect DIR or --endpoint URL") }
        guard (suspect == nil) != (endpoint == nil) else { throw ValidationError("give exactly one of --suspect DIR and --endpoint URL") }
    }

    /// A local model directory, or an HTTP endpoint when `location` is an http(s) URL.
    private func openSuspect(_ location: String) throws -> PredictionAPI {
        let lower = location.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") { return try HTTPPredictionAPI(url: location, apiKey: apiKey) }
        return try ModelAPI(directory: location, answerMode: .label)
    }

    func run() throws {
        if let prown { try runPrown(prown); return }
        compute.apply()
        if let dawnLog {
            let stolen = try verifyDAWN(logPath: dawnLog, suspect: try openSuspect(endpoint ?? suspect!), nullModels: try reference.map(openSuspect),
                                        alpha: alpha, json: json)
            if !stolen { throw VerifyCommand.notStolen }
            return
        }
        // Read and checked before any query is spent: a malformed bundle or key file stops here.
        let attached = try evidence.map { path in
            try EvidenceBundle.load(path).check(trustedKey: try evidencePublicKey.map(LedgerSigningKey.loadPublicKey), path: path)
        }
        let k = try WatermarkKey.load(key!)
        let triggers = try TriggerSet.make(key: k, heldOut: try FashionMNIST.load(split: .test), count: pairs, seed: seed)
        var verifier = try OwnershipVerifier(key: k, triggers: triggers, alpha: alpha)
        if let nullFloor {
            guard nullFloor >= 0 && nullFloor < 1 else { throw ValidationError("--null-floor \(nullFloor) must lie in [0, 1)") }
            verifier.nullRateFloor = nullFloor
        }
        let suspectModel: PredictionAPI = try endpoint.map { try HTTPPredictionAPI(url: $0, apiKey: apiKey) }
            ?? openSuspect(suspect!)
        let references = try reference.map(openSuspect)
        var report = sequential ? try verifier.verifySequential(suspect: suspectModel, references: references)
                                : try verifier.verify(suspect: suspectModel, references: references)
        report.evidence = attached
        if let attached, !attached.valid {
            FileHandle.standardError.write(Data("warning: the evidence bundle \(attached.bundle) does not check: \(attached.problem ?? "")\n".utf8))
        }
        if json {
            try printJSON(report)
        } else {
            show(report)
        }
        if report.verdict != .stolen { throw VerifyCommand.notStolen }
    }

    private func show(_ report: VerificationReport) {
        print("verdict          \(report.verdict.rawValue)")
        print("p-value          \(String(format: "%.3e", report.pValue)) (binomial \(String(format: "%.3e", report.binomialPValue)), McNemar \(String(format: "%.3e", report.mcnemarPValue))\(report.welchPValue.map { String(format: ", Welch %.3e", $0) } ?? ""))")
        print("WSR raw          \(percent(report.rawWSR)) (\(report.triggerHits) of \(report.pairs) triggers answered \(report.target))")
        if let e = report.exclusiveWSR { print("WSR exclusive    \(percent(e))") }
        print("WSR specific     \(percent(report.specificWSR)) (controls answered \(report.target): \(percent(report.controlRate)))")
        print("queries spent    \(report.queriesSpent)")
        if let e = report.evidence {
            print("evidence         client '\(e.client)': \(e.entries) entries, head #\(e.headID) \(e.headHash); signature \(e.signatureValid ? "valid" : "INVALID")\(e.keyTrusted ? "" : " (bundle's own key)"), chain \(e.chainIntact ? "intact" : "BROKEN")")
        }
    }
}
