import Diffusion
import Foundation
import Testing
import TensorEngine
@testable import Experiments

@Suite("Neural Honeytrace for a DDPM, end to end (tiny)")
struct DDPMExperimentTests {
    /// Blobs on a black background; with `brightCorners`, that share of the images has a corner
    /// patch of random brightness (natural queries that partly resemble the trigger).
    static func images(_ name: String, count: Int, seed: UInt64, brightCorners: Double = 0) -> DiffusionImages {
        var g = SeededGenerator(seed: seed)
        var values = [Float](repeating: -1, count: count * 784)
        for i in 0..<count {
            let cx = 8 + g.nextInt(below: 12), cy = 8 + g.nextInt(below: 12), r = 3 + g.nextInt(below: 5)
            for y in 0..<28 { for x in 0..<28 where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r { values[i * 784 + y * 28 + x] = 0.8 } }
            if Double(g.nextFloat()) < brightCorners {
                let v = g.nextFloat() * 2 - 1
                for y in 0..<5 { for x in 0..<5 { values[i * 784 + y * 28 + x] = v } }
            }
        }
        return DiffusionImages(name: name, imageShape: [1, 28, 28], values: values)
    }

    @Test("query counts, resumption, and the statistic parts a strongly defended copy from the undefended one")
    func tinyRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ddpm-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = DDPMExperiment.Images(victim: Self.images("victim", count: 200, seed: 1),
                                       thief: Self.images("thief", count: 200, seed: 2, brightCorners: 0.4),
                                       heldOut: Self.images("held-out", count: 40, seed: 3))
        let settings = DDPMExperiment.Settings(seed: 5, keySeed: 6, diffusionSteps: 100, betaLast: 0.2, width: 4, victimSteps: 40,
                                               thiefWidth: 6, thiefQueries: 1_500, thiefSteps: 300, batchSize: 16, learningRate: 3e-3,
                                               alpha: 1, prior: 0.5, verificationImages: 30, verificationTimesteps: [20, 40, 60],
                                               nullKeys: 199, costQueries: 100, samples: 2)
        let report = try DDPMExperiment.run(settings, data: data, directory: dir)
        #expect(report.thieves.map(\.queries) == [1_500, 1_500])
        let byName = Dictionary(uniqueKeysWithValues: report.verification.map { ($0.suspect, $0) })
        let defended = try #require(byName["thief of the defended API"]), undefended = try #require(byName["thief of the undefended API"])
        let api = try #require(byName["defended API"]), victim = try #require(byName["victim (bare)"])
        #expect(api.verdict == "watermarked" && api.wsr > 0.8)
        #expect(victim.verdict == "not shown" && undefended.verdict == "not shown", "\(victim.pairedPValue) \(undefended.pairedPValue)")
        #expect(defended.verdict == "watermarked", "\(DDPMExperiment.markdown(report))")
        #expect(defended.meanTriggered > undefended.meanTriggered + 0.15)
        #expect(report.cleanMSE["defended API"]! >= report.cleanMSE["victim (bare)"]!)
        for file in ["ddpm.json", "ddpm.md", "similarity.svg", "samples.png", "victim.safetensors", "thief-defended.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + file), "\(file)")
        }
        // A second run loads the three U-Nets and measures the same.
        var lines: [String] = []
        let again = try DDPMExperiment.run(settings, data: data, directory: dir, log: { lines.append($0) })
        #expect(lines.filter { $0.contains("loaded") }.count == 3)
        #expect(again.verification == report.verification)
    }
}
