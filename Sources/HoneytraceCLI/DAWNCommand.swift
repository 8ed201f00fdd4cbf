import ArgumentParser
import Baselines
import Datasets
import Foundation
import HoneytraceServer
import Prediction
import Stats
import TensorEngine
import Training

/// `honeytrace dawn`: the DAWN baseline's secret, its effect on a model's answers, and the
/// export of a served client's watermark log.
struct DAWNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dawn",
        abstract: "DAWN (docs/algorithms.md §6): an API-side watermark that gives a keyed share of queries a wrong label and logs them per client.",
        discussion: "Serve with `honeytrace serve MODEL --dawn-secret FILE`; verify with `honeytrace verify --dawn-log FILE --suspect DIR`.",
        subcommands: [DAWNSecretCommand.self, DAWNEvaluateCommand.self, DAWNExportCommand.self])
}

struct DAWNSecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "secret", abstract: "Write a fresh 32-byte DAWN secret (owner-only permissions).")

    @Option(help: "Secret file to write.") var out: String

    func run() throws {
        let secret = DAWNSecret.generate()
        try secret.save(to: out)
        print("wrote \(out) (fingerprint \(secret.fingerprint))")
    }
}

struct DAWNExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-log",
        abstract: "Export one client's DAWN watermark log from a server's query database.")

    @Option(help: "The server's SQLite query database.") var database: String
    @Option(help: "The API client (its name in the clients file; 'anonymous' without one).") var client: String
    @Option(help: "Log file to write.") var out: String
    @Option(help: "The served model's weights SHA-256, when the client was answered by several.") var modelSha256: String?
    @Option(help: "The DAWN secret's fingerprint, when the client was answered under several.") var secretFingerprint: String?
    @Option(help: "How many first logged queries form the watermark.") var watermarkSize = DAWNConfiguration().watermarkSize

    func run() throws {
        guard watermarkSize >= 1 else { throw ValidationError("--watermark-size must be at least 1") }
        let log = try DAWNLedger.exportLog(databasePath: database, client: client, modelSHA256: modelSha256,
                                           secretFingerprint: secretFingerprint, watermarkSize: watermarkSize)
        try log.write(to: out)
        print("wrote \(out): \(log.entries.count) watermark queries of client '\(client)' (watermark: the first \(log.watermark.count))")
    }
}

/// What `dawn evaluate` measured.
struct DAWNEvaluation: Encodable {
    struct Part: Encodable {
        let images: Int
        let changed: Int
        let rate: Double
        let rateInterval95: [Double]
        /// Rows that differ from the bare model's without being DAWN watermarks (should be 0).
        let honestRowsChanged: Int
        let bareAccuracy: Double
        let protectedAccuracy: Double
    }
    let model: String
    let secretFingerprint: String
    let rate: Double
    let selectionProbability: Double
    let test: Part
    let train: Part?
    let client: String
    let logEntries: Int
    let log: String?
}

struct DAWNEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Answer the Fashion-MNIST test set (then optionally train images) through DAWN as one client: the share of answers changed, accuracy with and without DAWN, and that client's log.")

    @Argument(help: "Model directory.") var model: String
    @Option(help: "DAWN secret file (`honeytrace dawn secret`).") var secret: String
    @Option(help: "Watermark rate r_w.") var rate = DAWNConfiguration().rate
    @Option(help: "Fashion-MNIST train images to ask after the test set (more watermark queries for the log).") var trainQueries = 0
    @Option(help: "First train image asked (default: the attacker's pool train[50000..<60000], never the owner's data).") var trainStart = 50_000
    @Option(help: "Client name in the log.") var client = "evaluation"
    @Option(help: "Write the client's DAWN log here.") var logOut: String?
    @Option(help: "Directory of the Fashion-MNIST IDX files.") var dataDir = FashionMNIST.defaultDirectory
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let trained = try ModelDirectory.load(model)
        let bare = ModelAPI(model: trained, answerMode: .probabilities, name: model)
        let marker = try DAWNMarker(secret: try DAWNSecret.load(secret), configuration: DAWNConfiguration(rate: rate))
        let api = try DAWNAPI(base: bare, marker: marker, defaultClient: client)
        let test = try FashionMNIST.load(split: .test, directory: dataDir)
        let testPart = try measure(api, bare, test)
        var trainPart: DAWNEvaluation.Part?
        if trainQueries > 0 {
            let train = try FashionMNIST.load(split: .train, directory: dataDir)
            guard (0..<train.count).contains(trainStart) else { throw ValidationError("--train-start must lie in 0..<\(train.count)") }
            trainPart = try measure(api, bare, train.subset(trainStart..<min(trainStart + trainQueries, train.count)))
        }
        let log = api.log(client: client)
        if let logOut { try log.write(to: logOut) }
        let result = DAWNEvaluation(model: model, secretFingerprint: marker.secret.fingerprint, rate: rate,
                                    selectionProbability: (65536 * rate).rounded(.up) / 65536, test: testPart, train: trainPart,
                                    client: client, logEntries: log.entries.count, log: logOut)
        if json { try printJSON(result); return }
        print("DAWN r_w \(rate) (secret \(result.secretFingerprint)) over \(model)")
        for (name, p) in [("test", testPart), ("train", trainPart)] {
            guard let p else { continue }
            print("\(name.padding(toLength: 6, withPad: " ", startingAt: 0)) \(p.changed) of \(p.images) answers changed (\(percent(p.rate)), 95 % CI \(percent(p.rateInterval95[0]))–\(percent(p.rateInterval95[1]))); honest answers changed: \(p.honestRowsChanged)")
            print("       accuracy \(percent(p.protectedAccuracy)) with DAWN, \(percent(p.bareAccuracy)) bare")
        }
        print("log    \(log.entries.count) watermark queries of client '\(client)'\(logOut.map { " written to \($0)" } ?? "")")
    }

    private func measure(_ api: DAWNAPI, _ bare: ModelAPI, _ data: ImageDataset) throws -> DAWNEvaluation.Part {
        let before = api.counts.marked
        var changed = 0, dishonest = 0, bareCorrect = 0, protectedCorrect = 0
        let size = data.imageSize
        for start in stride(from: 0, to: data.count, by: 1000) {
            let end = min(start + 1000, data.count)
            let x = Tensor(Array(data.pixels[(start * size)..<(end * size)]), shape: [end - start] + data.imageShape)
            let plain = try bare.answer(x), served = try api.answer(x)
            for i in 0..<(end - start) {
                let label = data.labels[start + i]
                if ProbabilityRow.argmax(plain[i]) == label { bareCorrect += 1 }
                if ProbabilityRow.argmax(served[i]) == label { protectedCorrect += 1 }
                if served[i].map(\.bitPattern) != plain[i].map(\.bitPattern) {
                    changed += 1
                    if ProbabilityRow.argmax(served[i]) == ProbabilityRow.argmax(plain[i]) { dishonest += 1 }
                }
            }
        }
        // A changed row is honest only if DAWN marked it (its top-1 changed) and DAWN marked no more rows than changed.
        dishonest += abs((api.counts.marked - before) - changed)
        let n = data.count
        let ci = clopperPearsonInterval(successes: changed, trials: n, confidence: 0.95)
        return DAWNEvaluation.Part(images: n, changed: changed, rate: Double(changed) / Double(n), rateInterval95: [ci.lower, ci.upper],
                                   honestRowsChanged: dishonest, bareAccuracy: Double(bareCorrect) / Double(n),
                                   protectedAccuracy: Double(protectedCorrect) / Double(n))
    }
}

extension VerifyCommand {
    /// `honeytrace verify --dawn-log FILE SUSPECT…`: the suspects' agreement with a client's DAWN watermark; the log and
    /// the null models' agreements are read once for every suspect.
    func dawnVerifier(_ logPath: String) throws -> (Source) throws -> Result {
        let log = try DAWNWatermarkLog.load(logPath)
        let nulls = try DAWNVerifier.nullAgreements(log: log, models: try reference.map(openSuspect))
        return { [alpha] source in
            let suspect = try openLive(source)
            let report = try DAWNVerifier.verify(log: log, suspect: suspect, alpha: alpha, nullAgreements: nulls)
            return (VerdictRecord(suspect: source.name, evidence: report.evidence, report: report), VerifyCommand.lines(report))
        }
    }

    static func lines(_ report: DAWNVerification) -> [String] {
        var out = ["verdict          \(report.verdict)",
                   "agreement        \(percent(report.agreement)) (\(report.agreements) of \(report.queries) watermark queries of client '\(report.client)' answered with the logged wrong label; chance \(percent(report.chance)))",
                   "p-value          \(String(format: "%.3e", report.pValue)) (binomial against chance, α \(report.alpha))"]
        if let t = report.nullThreshold {
            out.append("null models      \(report.nullModels.count), threshold \(percent(t)), \(report.nullFalseClaims ?? 0) above it; empirical p \(String(format: "%.3g", report.nullEmpiricalPValue ?? 1))")
        }
        out.append("queries spent    \(report.queries)")
        return out
    }
}
