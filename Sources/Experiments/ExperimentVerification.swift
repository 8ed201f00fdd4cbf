import Datasets
import Foundation
import Honeytrace
import NeuralNet
import Prediction

/// Verifies every surrogate of an experiment directory with the directory's key, as an owner
/// would (issue 19; formerly docs/results/fmnist/verify-sequential.sh): the reference of a
/// defended surrogate is the undefended API's surrogate from the same attack
/// (`none--<attack>--<variant>--s<seed>`), that of an undefended one the victim.
public enum ExperimentVerification {
    /// One surrogate's verification: its report, or why it could not run.
    public struct Row {
        public var id: String
        public var surrogate: String
        public var reference: String
        public var report: VerificationReport?
        public var error: String?

        public var verdict: String { report?.verdict.rawValue ?? "error" }
    }

    /// The surrogates of `directory` (sorted ids) with the reference each is verified against.
    ///
    /// - Throws: `ExperimentError` for a missing directory, no surrogates, or a missing key.
    public static func plan(directory: String, victim: String? = nil) throws -> [(id: String, surrogate: String, reference: String)] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ExperimentError("\(directory): no such experiment directory")
        }
        guard fm.fileExists(atPath: directory + "/key.htkey") else {
            throw ExperimentError("\(directory)/key.htkey: no key; verify an experiment directory that `experiment run` prepared")
        }
        let ids = ((try? fm.contentsOfDirectory(atPath: directory + "/surrogates")) ?? [])
            .filter { fm.fileExists(atPath: "\(directory)/surrogates/\($0)/model.json") }.sorted()
        guard !ids.isEmpty else { throw ExperimentError("\(directory)/surrogates: no surrogate to verify") }
        let victimPath = victim ?? directory + "/victim"
        return ids.map { id in
            let reference: String
            if id.hasPrefix("none--") {
                reference = victimPath
            } else if let dash = id.range(of: "--") {
                reference = "\(directory)/surrogates/none--\(id[dash.upperBound...])"
            } else {
                reference = victimPath
            }
            return (id, "\(directory)/surrogates/\(id)", reference)
        }
    }

    /// Verifies every surrogate (`plan`); a surrogate or reference that cannot be read gives an
    /// error row and the others are still verified. Each reference is asked once.
    public static func run(directory: String, victim: String? = nil, heldOut: ImageDataset, pairs: Int = 500, seed: UInt64 = 1,
                           alpha: Double = 1e-4, sequential: Bool = false,
                           progress: (String) -> Void = { _ in }) throws -> [Row] {
        let plan = try plan(directory: directory, victim: victim)
        let key = try WatermarkKey.load(directory + "/key.htkey")
        let triggers = try TriggerSet.make(key: key, heldOut: heldOut, count: pairs, seed: seed)
        let verifier = try OwnershipVerifier(key: key, triggers: triggers, alpha: alpha)
        var answered: [String: OwnershipVerifier.ReferenceAnswers] = [:]
        var rows: [Row] = []
        for item in plan {
            progress(item.id)
            var row = Row(id: item.id, surrogate: item.surrogate, reference: item.reference)
            do {
                let reference: OwnershipVerifier.ReferenceAnswers
                if let known = answered[item.reference] { reference = known } else {
                    guard FileManager.default.fileExists(atPath: item.reference + "/model.json") else {
                        throw ExperimentError("\(item.id): its reference \(item.reference) is not a model directory")
                    }
                    reference = try verifier.answers(of: ModelAPI(directory: item.reference, answerMode: .label))
                    answered[item.reference] = reference
                }
                let suspect = try ModelAPI(directory: item.surrogate, answerMode: .label)
                row.report = sequential ? try verifier.verifySequential(suspect: suspect, answered: [reference])
                                        : try verifier.analyze(suspect: try verifier.answers(of: suspect), references: [reference])
            } catch {
                let message = "\(error)"
                row.error = message.contains(item.id) ? message : "\(item.id): \(message)"
            }
            rows.append(row)
        }
        return rows
    }

    static let columns = ["surrogate", "verdict", "queries", "p binomial", "p McNemar", "WSR raw", "WSR specific"]

    static func cells(_ r: Row) -> [String] {
        guard let p = r.report else { return [r.id, "error", "—", "—", "—", "—", "—"] }
        return [r.id, p.verdict.rawValue, String(p.queriesSpent), String(format: "%.2g", p.binomialPValue),
                String(format: "%.2g", p.mcnemarPValue), String(format: "%.1f %%", 100 * p.rawWSR),
                String(format: "%.1f %%", 100 * p.specificWSR)]
    }

    /// verify-sequential.sh's table: one row per surrogate, then the errors.
    public static func markdown(_ rows: [Row]) -> String {
        var lines = ["| " + columns.joined(separator: " | ") + " |", "|" + String(repeating: "---|", count: columns.count)]
        lines += rows.map { "| " + cells($0).joined(separator: " | ") + " |" }
        let errors = rows.compactMap(\.error)
        if !errors.isEmpty { lines += [""] + errors.map { "- error: \($0)" } }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The same figures, unrounded, with the reference: one CSV row per surrogate.
    public static func csv(_ rows: [Row]) -> String {
        var lines = ["surrogate,reference,verdict,queries,binomial_p,mcnemar_p,raw_wsr,specific_wsr,error"]
        for r in rows {
            let quoted = r.error.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" } ?? ""
            if let p = r.report {
                lines.append([r.id, r.reference, p.verdict.rawValue, String(p.queriesSpent), "\(p.binomialPValue)", "\(p.mcnemarPValue)",
                              "\(p.rawWSR)", "\(p.specificWSR)", ""].joined(separator: ","))
            } else {
                lines.append([r.id, r.reference, "error", "", "", "", "", "", quoted].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
