import Datasets
import Formats
import Foundation
import Training

/// A directory of exported verification queries, for a suspect that cannot be queried live:
/// `queries.npy` (the exact float32 pixels, `[2m, C, H, W]`), `images/qNNNNN.png` (one 8-bit PNG per
/// query, same order) and the signed `manifest.json`. `write` creates it atomically; `open` checks
/// it under the key and rebuilds the same queries, to replay the suspect's answers.
public enum QueryExport {
    public static let manifestName = "manifest.json"
    public static let batchName = "queries.npy"
    public static let imageDirectory = "images"

    static let order = "query i is image i of queries.npy and images[i]; answer every query, in this order. Triggers and their paired controls are interleaved in an order drawn from the key's secret, which this export does not reveal."
    static let answers = "one line 'index,label' per query (CSV), or a JSON array of labels, or rows of class probabilities (JSON array of arrays, or CSV 'index,p_0,…'); `honeytrace predict MODEL --input queries.npy --json` prints an accepted form"

    /// Writes the queries of `key`'s triggers into the new (or empty) directory `directory`.
    ///
    /// - Parameter heldOut: the data the triggers were made from (its fingerprint goes in the manifest).
    /// - Throws: `FormatError` when `directory` exists and is not empty, or a write fails; nothing
    ///   is left behind then.
    @discardableResult
    public static func write(_ queries: OfflineQueries, key: WatermarkKey, heldOut: DataFingerprint, to directory: String) throws -> QueryManifest {
        let pixels = queries.pixels()
        let shape = queries.triggers.imageShape, size = queries.triggers.imageSize
        let batch = try NPY.encode(floats: pixels, shape: [queries.count] + shape)
        let digits = max(5, String(queries.count - 1).count)
        var manifest: QueryManifest?
        try AtomicDirectory.create(directory) { temp in
            try AtomicFile.write(batch, to: temp + "/" + batchName)
            try FileManager.default.createDirectory(atPath: temp + "/" + imageDirectory, withIntermediateDirectories: false)
            var images: [QueryManifest.File] = []
            images.reserveCapacity(queries.count)
            try pixels.withUnsafeBufferPointer { all in
                for k in 0..<queries.count {
                    let name = imageDirectory + "/q" + String(repeating: "0", count: max(0, digits - String(k).count)) + String(k) + ".png"
                    let png = try PNG.encode(unitPixels: UnsafeBufferPointer(rebasing: all[(k * size)..<((k + 1) * size)]), shape: shape, label: name)
                    try AtomicFile.write(png, to: temp + "/" + name)
                    images.append(.init(path: name, sha256: Hashing.sha256(png)))
                }
            }
            let signed = QueryManifest.Signed(
                keyFingerprint: key.secretFingerprint, modelSHA256: key.model.weightsSHA256, target: key.target, seed: queries.seed,
                pairs: queries.triggers.count, queries: queries.count, imageShape: shape, classes: key.classes, heldOut: heldOut,
                batch: .init(path: batchName, sha256: Hashing.sha256(batch)), images: images, order: order, answers: answers)
            let signedManifest = try QueryManifest(signing: signed, secret: key.secret)
            try AtomicFile.write(try signedManifest.encoded(), to: temp + "/" + manifestName)
            manifest = signedManifest
        }
        return manifest!
    }

    /// The queries exported to `directory`, rebuilt from `key` and `heldOut` after checking that
    /// the manifest's signature holds under `key`, that every file still has the SHA-256 the
    /// manifest gives, and that the rebuilt queries are the exported ones bit for bit.
    ///
    /// - Throws: `HoneytraceError` naming the file and what differs.
    public static func open(_ directory: String, key: WatermarkKey, heldOut: ImageDataset) throws -> (OfflineQueries, QueryManifest) {
        let manifestPath = directory + "/" + manifestName
        let manifest = try QueryManifest.load(manifestPath)
        let s = manifest.signed
        func fail(_ file: String, _ problem: String) -> HoneytraceError { HoneytraceError(file: file, .invalidArgument, problem) }
        guard s.keyFingerprint == key.secretFingerprint else {
            throw fail(manifestPath, "made with the key of fingerprint \(s.keyFingerprint), this key's is \(key.secretFingerprint)")
        }
        guard try manifest.isValid(secret: key.secret) else {
            throw fail(manifestPath, "the signature does not hold under this key: the manifest was changed after the export")
        }
        for file in [s.batch] + s.images {
            let path = directory + "/" + file.path
            guard let data = FileManager.default.contents(atPath: path) else { throw fail(path, "missing or unreadable (listed in the manifest)") }
            let found = Hashing.sha256(data)
            guard found == file.sha256 else { throw fail(path, "changed since the export: SHA-256 \(found), the manifest signed \(file.sha256)") }
        }
        let triggers = try TriggerSet.make(key: key, heldOut: heldOut, count: s.pairs, seed: s.seed)
        let queries = OfflineQueries(triggers: triggers, secret: key.secret, seed: s.seed)
        let rebuilt = Hashing.sha256(try NPY.encode(floats: queries.pixels(), shape: [queries.count] + triggers.imageShape))
        guard rebuilt == s.batch.sha256 else {
            throw fail(directory + "/" + batchName,
                       "the key, seed \(s.seed) and \(s.pairs) pairs now give other queries (held-out data \(DataFingerprint(heldOut).sha256.prefix(12)), exported from \(s.heldOut.sha256.prefix(12)))")
        }
        return (queries, manifest)
    }
}
