import Datasets
import Diffusion
import Foundation
import Stats
import TensorEngine

/// The ownership check for a suspect denoiser (docs/algorithms.md §12.3). The owner builds pairs of
/// queries from its held-out images: the image with the trigger stamped and the same image without
/// it, both noised with the same ε at each of a fixed set of steps. For each query the statistic is
/// the correlation r of the suspect's answer inside M with W.
///
/// Reported: the mean r of both; WSR, the share of triggered queries whose r exceeds the suspect's
/// own 95th percentile of control r (so about 5 % on a suspect that never saw W); the paper's test,
/// the one-sided paired t-test of r_triggered − r_control; and two key-null p-values, the share of
/// `nullKeys` other keys W′ that do at least as well as W, p = (1 + #{W′ ≥ W}) / (1 + nullKeys), for the
/// mean triggered r and for the mean paired difference. A suspect that never saw the API answers
/// independently of the secret W, so W is then exchangeable with the other keys and the key-null
/// p-values are exact. The paired t-test is not: any pattern a model draws in the corner when it
/// sees a bright patch makes it significant, watermark or not. The verdict, "watermarked", is
/// therefore the key null of the mean triggered r below the false-claim rate (which also counts
/// the part of W a copy answers whatever the corner holds).
public struct NoiseWatermarkVerification: Sendable {
    public struct Settings: Codable, Sendable, Equatable {
        /// Owner held-out images used (each at every step of `timesteps`).
        public var images: Int
        public var timesteps: [Int]
        /// Seed of the noise ε of the pairs and of the null keys.
        public var seed: UInt64
        public var nullKeys: Int
        public var falseClaimRate: Double
        /// Quantile of the control r that a triggered r must exceed to count as a hit.
        public var controlQuantile: Double

        public init(images: Int = 100, timesteps: [Int] = [200, 400, 600, 800], seed: UInt64, nullKeys: Int = 999,
                    falseClaimRate: Double = 0.01, controlQuantile: Double = 0.95) {
            self.images = images; self.timesteps = timesteps; self.seed = seed; self.nullKeys = nullKeys
            self.falseClaimRate = falseClaimRate; self.controlQuantile = controlQuantile
        }
    }

    /// One suspect's figures.
    public struct Report: Codable, Sendable, Equatable {
        public var suspect: String
        public var pairs: Int
        public var meanTriggered: Double
        public var meanControl: Double
        public var threshold: Double
        public var wsr: Double
        /// WSR per step of the settings' `timesteps`, in order.
        public var wsrByStep: [Double]
        public var pairedT: Double?
        public var pairedPValue: Double
        /// Key null of the mean triggered r (the verdict's test).
        public var keyNullPValue: Double
        /// Key null of the mean paired difference r_triggered − r_control.
        public var keyNullPairedPValue: Double
        public var verdict: String
        public var triggered: [Double]
        public var control: [Double]
    }

    public let settings: Settings
    public let watermark: NoiseWatermark
    /// The triggered and control queries, pair k in row k of each.
    public let triggeredQueries: Tensor, controlQueries: Tensor
    public let queryTimesteps: [Int]

    public init(settings: Settings, watermark: NoiseWatermark, images: DiffusionImages, schedule: NoiseSchedule) throws {
        guard settings.images >= 1, settings.images <= images.count else {
            throw DiffusionError("verification needs 1…\(images.count) held-out images, asked for \(settings.images)")
        }
        guard !settings.timesteps.isEmpty, settings.timesteps.allSatisfy({ (0..<schedule.steps).contains($0) }) else {
            throw DiffusionError("verification steps must lie in 0..<\(schedule.steps), found \(settings.timesteps)")
        }
        guard settings.images * settings.timesteps.count >= 2 else { throw DiffusionError("verification needs at least 2 pairs") }
        guard settings.falseClaimRate > 0, settings.falseClaimRate < 1, settings.controlQuantile > 0, settings.controlQuantile < 1 else {
            throw DiffusionError("the false-claim rate and the control quantile must lie in (0, 1)")
        }
        self.settings = settings
        self.watermark = watermark
        let indices = settings.timesteps.flatMap { _ in Array(0..<settings.images) }
        queryTimesteps = settings.timesteps.flatMap { Array(repeating: $0, count: settings.images) }
        let clean = images.batch(indices)
        var g = SeededGenerator(seed: settings.seed)
        let noise = Tensor.normal(clean.shape, generator: &g)
        controlQueries = schedule.noised(clean, noise: noise, timesteps: queryTimesteps)
        triggeredQueries = schedule.noised(watermark.triggered(clean), noise: noise, timesteps: queryTimesteps)
    }

    /// Queries `suspect` with every pair and computes the figures.
    public func verify(_ suspect: NoisePredictionAPI, name: String) throws -> Report {
        let onTriggered = try suspect.predictNoise(triggeredQueries, timesteps: queryTimesteps)
        let onControl = try suspect.predictNoise(controlQueries, timesteps: queryTimesteps)
        let n = queryTimesteps.count
        let offsets = watermark.maskOffsets(imageShape: Array(onTriggered.shape.dropFirst()))
        let size = onTriggered.count / n
        func region(_ t: Tensor, _ row: Int) -> [Double] { offsets.map { Double(t.data[row * size + $0]) } }
        let regions = (0..<n).map { (region(onTriggered, $0), region(onControl, $0)) }
        func tiled(_ p: [Float]) -> [Double] { offsets.indices.map { Double(p[$0 % p.count]) } }
        func correlations(_ pattern: [Double]) -> (triggered: [Double], control: [Double]) {
            (regions.map { NoiseWatermark.correlation($0.0, pattern: pattern) }, regions.map { NoiseWatermark.correlation($0.1, pattern: pattern) })
        }
        let (rt, rc) = correlations(tiled(watermark.pattern))
        let threshold = Self.quantile(rc, settings.controlQuantile)
        let hits = rt.map { $0 > threshold }
        let perStep = settings.timesteps.indices.map { k in
            Double(hits[(k * settings.images)..<((k + 1) * settings.images)].filter { $0 }.count) / Double(settings.images)
        }
        let paired: PairedTestResult
        do { paired = try pairedTTest(rt, rc) } catch { throw DiffusionError("the paired t-test failed: \(error)") }
        // The key nulls: other keys' mean triggered r and mean paired difference.
        var g = SeededGenerator(seed: SeedMixing.mix(settings.seed, 1))
        let ours = rt.reduce(0, +) / Double(n), oursPaired = paired.meanDifference
        var atLeast = 0, atLeastPaired = 0
        for _ in 0..<settings.nullKeys {
            let other = NoiseWatermark(keySeed: g.next(), side: watermark.side)
            let (ot, oc) = correlations(tiled(other.pattern))
            if ot.reduce(0, +) / Double(n) >= ours { atLeast += 1 }
            if zip(ot, oc).reduce(0.0, { $0 + $1.0 - $1.1 }) / Double(n) >= oursPaired { atLeastPaired += 1 }
        }
        let keyP = Double(1 + atLeast) / Double(1 + settings.nullKeys)
        let keyPairedP = Double(1 + atLeastPaired) / Double(1 + settings.nullKeys)
        let watermarked = keyP < settings.falseClaimRate
        return Report(suspect: name, pairs: n, meanTriggered: ours, meanControl: rc.reduce(0, +) / Double(n),
                      threshold: threshold, wsr: Double(hits.filter { $0 }.count) / Double(n), wsrByStep: perStep,
                      pairedT: paired.statistic, pairedPValue: paired.pValue, keyNullPValue: keyP, keyNullPairedPValue: keyPairedP,
                      verdict: watermarked ? "watermarked" : "not shown", triggered: rt, control: rc)
    }

    /// The q-quantile of `values` (the smallest value with at least a share q at or below it).
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
    }
}
