import Baselines
import Extraction
import Foundation
import Honeytrace
import Training

/// Reading configurations: the accuracy budgets are percentage points (`accuracyBudgetPoints`);
/// the fields they replaced, `calibrationBudget` and `heavyClient.budget`, were fractions and are
/// still read (×100, so the manifests and configurations under docs/results keep their meaning),
/// never together with the new field. `deprecatedFields(in:)` names them for a warning.
extension ExperimentConfiguration {
    enum DecodingKey: String, CodingKey {
        case name, victim, attacks, defenses, pool, budget, surrogateEpochs, jbdaSeedSize, seeds, recipe, keySize, keySeed
        case accuracyBudgetPoints, calibrationBudget, calibrationConfidence, defense, fixedOffset, triggerCount, alpha, testLimit
        case ownerData, ownerDataset, attackerDataset, nullPool, heavyClient, prown
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: DecodingKey.self)
        name = try c.decode(String.self, forKey: .name)
        victim = try c.decode(Victim.self, forKey: .victim)
        attacks = try c.decode([AttackRow].self, forKey: .attacks)
        defenses = try c.decode([String].self, forKey: .defenses)
        pool = try c.decode(PoolKind.self, forKey: .pool)
        budget = try c.decode(Int.self, forKey: .budget)
        surrogateEpochs = try c.decode(Int.self, forKey: .surrogateEpochs)
        jbdaSeedSize = try c.decode(Int.self, forKey: .jbdaSeedSize)
        seeds = try c.decode([UInt64].self, forKey: .seeds)
        recipe = try c.decodeIfPresent(WatermarkRecipe.self, forKey: .recipe)
        keySize = try c.decode(Int.self, forKey: .keySize)
        keySeed = try c.decode(UInt64.self, forKey: .keySeed)
        accuracyBudgetPoints = try PercentagePoints.decode(c, new: .accuracyBudgetPoints, old: .calibrationBudget, what: "the accuracy budget")
        calibrationConfidence = try c.decodeIfPresent(Double.self, forKey: .calibrationConfidence)
        defense = try c.decodeIfPresent(DefenseConfiguration.self, forKey: .defense)
        fixedOffset = try c.decodeIfPresent(Float.self, forKey: .fixedOffset)
        triggerCount = try c.decode(Int.self, forKey: .triggerCount)
        alpha = try c.decode(Double.self, forKey: .alpha)
        testLimit = try c.decodeIfPresent(Int.self, forKey: .testLimit)
        ownerData = try c.decodeIfPresent(OwnerData.self, forKey: .ownerData)
        ownerDataset = try c.decodeIfPresent(ExperimentDataSet.self, forKey: .ownerDataset)
        attackerDataset = try c.decodeIfPresent(ExperimentDataSet.self, forKey: .attackerDataset)
        nullPool = try c.decodeIfPresent(NullPoolReference.self, forKey: .nullPool)
        heavyClient = try c.decodeIfPresent(HeavyClient.self, forKey: .heavyClient)
        prown = try c.decodeIfPresent(PrownSettings.self, forKey: .prown)
    }

    /// Deprecated fields in a configuration's JSON, each with the field that replaced it, for a
    /// warning: an old configuration is read correctly, and its author learns the new unit.
    public static func deprecatedFields(in json: Data) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return [] }
        var found: [String] = []
        if let f = object["calibrationBudget"] as? Double {
            found.append("'calibrationBudget' (a fraction) is deprecated: read as \"accuracyBudgetPoints\": \(Self.format(f * 100)) (percentage points)")
        }
        if let heavy = object["heavyClient"] as? [String: Any], let f = heavy["budget"] as? Double {
            found.append("'heavyClient.budget' (a fraction) is deprecated: read as \"heavyClient.accuracyBudgetPoints\": \(Self.format(f * 100)) (percentage points)")
        }
        return found
    }

    static func format(_ x: Double) -> String { String((x * 1e9).rounded() / 1e9) }
}

extension ExperimentConfiguration.HeavyClient {
    enum DecodingKey: String, CodingKey { case afterQueries, accuracyBudgetPoints, budget, defense, union }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: DecodingKey.self)
        afterQueries = try c.decode(Int.self, forKey: .afterQueries)
        accuracyBudgetPoints = try PercentagePoints.decode(c, new: .accuracyBudgetPoints, old: .budget, what: "the accuracy budget")
        defense = try c.decode(DefenseConfiguration.self, forKey: .defense)
        union = try c.decodeIfPresent(Bool.self, forKey: .union)
    }
}
