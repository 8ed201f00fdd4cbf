import Foundation
import Formats
import Honeytrace
import Stats

/// What the owner's verifier says of each null-pool model: every member is verified as a
/// suspect against the others (leave one out), so a "stolen" here is a false claim; and the specific
/// WSR's threshold at false-claim rate α from a normal fit to the members' values.
public struct NullPoolVerdicts: Codable, Sendable {
    public struct Member: Codable, Sendable {
        public var name: String
        public var wsrRaw: Double
        public var wsrSpecific: Double
        public var cleanControlRate: Double
        public var pValue: Double
        public var verdict: String
    }

    public var alpha: Double
    public var members: [Member]
    /// Members called "stolen" at α.
    public var falseClaims: Int
    /// μ + z₁₋α·σ of the members' specific WSR; a suspect above it is unlike every null model at rate α
    /// (a normal extrapolation: with N members nothing below ≈ 1/N is checked empirically).
    public var specificWSRThreshold: Double
    public var specificWSRMean: Double
    public var specificWSRStd: Double

    /// Verifies each member against the others, from answers asked once.
    public static func make(answers: [OwnershipVerifier.ReferenceAnswers], verifier: OwnershipVerifier) throws -> NullPoolVerdicts {
        guard answers.count >= 2 else { throw ExperimentError("a null pool needs at least 2 models, found \(answers.count)") }
        let members = try answers.indices.map { i -> Member in
            let r = try verifier.analyze(suspect: answers[i], references: answers.indices.filter { $0 != i }.map { answers[$0] })
            return Member(name: answers[i].name, wsrRaw: r.rawWSR, wsrSpecific: r.specificWSR, cleanControlRate: r.controlRate,
                          pValue: r.pValue, verdict: r.verdict.rawValue)
        }
        let threshold: NullModelThreshold
        do { threshold = try nullModelThreshold(nullStatistics: members.map(\.wsrSpecific), falseClaimRate: verifier.alpha) } catch {
            throw ExperimentError("null pool threshold: \(error)")
        }
        return NullPoolVerdicts(alpha: verifier.alpha, members: members, falseClaims: members.filter { $0.verdict == "stolen" }.count,
                                specificWSRThreshold: threshold.threshold, specificWSRMean: threshold.mean,
                                specificWSRStd: threshold.standardDeviation)
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: path)
    }
}
