import Datasets
import Foundation
import Formats
import NeuralNet
import TensorEngine
import Training

/// Models that never saw the API: the null distribution every verdict is measured
/// against. Built once into a directory and reused by every grid that names it.
///
/// The pool varies what an honest competitor could vary: architecture (fmnist-cnn and resnet-8,
/// alternating), training seed, data (a seeded random subset of 10,000–30,000 images from the
/// whole Fashion-MNIST training file, so some overlap the owner's data and some the attacker's;
/// or, for an owner's own data set, from its description's `train` part, all of it when the part
/// is smaller), epochs (4–8), learning rate and augmentation. Model `i` depends only on `i`, so a
/// pool of 24 is a pool of 20 plus four, and an interrupted build resumes. A pool built on a
/// description records it (`data.json`: its path and digests), and members of one pool are never
/// trained on two different data sets.
public struct NullPool: Sendable {
    /// How one null model is trained.
    public struct Member: Codable, Sendable, Equatable {
        public var name: String
        public var architecture: Architecture
        public var seed: UInt64
        /// Images drawn (without replacement) from the pool's training data (at most all of it).
        public var trainImages: Int
        public var epochs: Int
        public var learningRate: Float
        public var augment: Bool

        public init(name: String, architecture: Architecture, seed: UInt64, trainImages: Int, epochs: Int, learningRate: Float, augment: Bool) {
            self.name = name; self.architecture = architecture; self.seed = seed; self.trainImages = trainImages
            self.epochs = epochs; self.learningRate = learningRate; self.augment = augment
        }
    }

    public let directory: URL
    public let members: [Member]
    /// The owner's data set the members train on (nil: the built-in Fashion-MNIST).
    public let dataSet: ExperimentDataSet?

    /// A pool of `members` in `directory`, trained on `dataSet` (nil: Fashion-MNIST).
    public init(directory: String, members: [Member], dataSet: ExperimentDataSet? = nil) throws {
        guard !members.isEmpty else { throw ExperimentError("a null pool needs at least one model") }
        guard Set(members.map(\.name)).count == members.count else { throw ExperimentError("null pool members must have distinct names") }
        self.directory = URL(fileURLWithPath: directory)
        self.members = members
        self.dataSet = dataSet
    }

    /// The first `count` members of the standard pool, in `directory`, trained on `dataSet`'s
    /// train part (nil: Fashion-MNIST's whole training file).
    public static func standard(directory: String, count: Int, architectures: [Architecture] = [.fmnistCNN, .resnet8],
                                dataSet: ExperimentDataSet? = nil) throws -> NullPool {
        guard count >= 1 else { throw ExperimentError("a null pool needs at least one model, \(count) requested") }
        guard !architectures.isEmpty else { throw ExperimentError("a null pool needs at least one architecture") }
        return try NullPool(directory: directory, members: (0..<count).map { member($0, architectures: architectures) }, dataSet: dataSet)
    }

    /// The data set a pool in `directory` was built on: its record in `data.json`, nil for the
    /// built-in Fashion-MNIST (no such file).
    public static func dataRecord(directory: String) throws -> DataSetRecord? {
        let file = URL(fileURLWithPath: directory).appendingPathComponent("data.json").path
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        do { return try JSONDecoder().decode(DataSetRecord.self, from: data) } catch {
            throw ExperimentError("\(file): not a null pool's data record (\(error))")
        }
    }

    /// The first `count` members of the pool built in `directory` (as its `pool.json` lists them).
    public static func existing(directory: String, count: Int) throws -> NullPool {
        let file = URL(fileURLWithPath: directory).appendingPathComponent("pool.json").path
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ExperimentError("\(file): no null pool here; build one with `honeytrace experiment null-pool --out \(directory)`")
        }
        let members: [Member]
        do { members = try JSONDecoder().decode([Member].self, from: data) } catch {
            throw ExperimentError("\(file): not a null pool's member list (\(error))")
        }
        guard members.count >= count else {
            throw ExperimentError("\(file): the pool has \(members.count) models, \(count) requested; build more with --count \(count)")
        }
        return try NullPool(directory: directory, members: Array(members.prefix(count)))
    }

    /// Member `i` of the standard pool.
    static func member(_ i: Int, architectures: [Architecture]) -> Member {
        var g = SeededGenerator(seed: SeedMixing.mix(0x6E75_6C6C, UInt64(i)))  // "null"
        let architecture = architectures[i % architectures.count]
        let seed = 10_000 + UInt64(i)
        let images = 10_000 + 5_000 * g.nextInt(below: 5)
        let epochs = 4 + g.nextInt(below: 5)
        let rate: Float = architecture == .fmnistCNN ? [0.02, 0.05, 0.08][g.nextInt(below: 3)] : [0.05, 0.1, 0.15][g.nextInt(below: 3)]
        let augment = g.nextInt(below: 3) != 0
        return Member(name: String(format: "null-%02d-%@", i, architecture.rawValue), architecture: architecture, seed: seed,
                      trainImages: images, epochs: epochs, learningRate: rate, augment: augment)
    }

    /// The training images of `member`: a seeded subset of the pool's training data.
    static func trainingData(_ member: Member, from train: ImageDataset) -> ImageDataset {
        var g = SeededGenerator(seed: SeedMixing.mix(member.seed, 0x6461_7461))  // "data"
        var order = Array(0..<train.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, g.nextInt(below: i + 1)) }
        let picked = Array(order.prefix(min(member.trainImages, train.count))).sorted()
        return train.subset(indices: picked, name: "\(train.name)[\(picked.count) of \(train.count), seed \(member.seed)]")
    }

    func path(_ member: Member) -> String { directory.appendingPathComponent(member.name).path }

    /// Trains the members that have no model directory yet; returns how many it trained.
    /// Writes `pool.json` first, so a pool being built already names its members.
    @discardableResult
    public func build(log: @escaping (String) -> Void = { _ in }, onProgress: ((TrainingProgress) -> Void)? = nil) throws -> Int {
        let record = try dataSet.map { try DataSetRecord.make(role: "null-pool", $0) }
        try checkSameData(record)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(members), to: directory.appendingPathComponent("pool.json").path)
        if let record { try AtomicFile.write(try encoder.encode(record), to: directory.appendingPathComponent("data.json").path) }
        let missing = members.filter { !FileManager.default.fileExists(atPath: path($0) + "/model.json") }
        guard !missing.isEmpty else { return 0 }
        let train: ImageDataset, test: ImageDataset, normalization: Normalization, classNames: [String]?
        if let dataSet {
            let d = try dataSet.load()
            train = try d.load(.train)
            guard d.files(of: .test) != nil else {
                throw ExperimentError("\(DatasetDescription.descriptionFile(dataSet.path)): a null pool measures each member on the 'test' part, which the description does not name")
            }
            test = try d.load(.test)
            normalization = try d.normalization(train: train)
            classNames = d.classNames
        } else {
            train = try FashionMNIST.load(split: .train)
            test = try FashionMNIST.test()
            normalization = .fashionMNIST
            classNames = FashionMNIST.classNames
        }
        for (n, m) in missing.enumerated() {
            let data = NullPool.trainingData(m, from: train)
            var recipe = TrainingRecipe.fashionMNISTDefault(m.architecture, seed: m.seed)
            recipe.epochs = m.epochs
            recipe.schedule = .cosine(epochs: m.epochs, minimum: 0)
            recipe.learningRate = m.learningRate
            if !m.augment { recipe.augmentation = .none }
            log("[\(n + 1)/\(missing.count)] \(m.name): \(m.epochs) epochs on \(data.count) images, lr \(m.learningRate)\(m.augment ? ", augmented" : "")")
            let model = try FashionMNISTTraining.train(m.architecture, recipe: recipe, on: data, test: test, source: "null-pool",
                                                       normalization: normalization, classNames: classNames, onProgress: onProgress)
            try ModelDirectory.save(model, to: path(m))
            log(String(format: "  test accuracy %.2f%%, %.0f s", 100 * (model.manifest.metrics["test_accuracy"] ?? 0),
                       model.manifest.metrics["train_seconds"] ?? 0))
        }
        return missing.count
    }

    /// Refuses to add members trained on other data than the pool's existing ones.
    func checkSameData(_ record: DataSetRecord?) throws {
        let built = members.contains { FileManager.default.fileExists(atPath: path($0) + "/model.json") }
        guard built || FileManager.default.fileExists(atPath: directory.appendingPathComponent("data.json").path) else { return }
        let existing = try Self.dataRecord(directory: directory.path)
        func describe(_ r: DataSetRecord?) -> String { r.map { "the data set \($0.path) (description SHA-256 \($0.descriptionSHA256.prefix(12))…)" } ?? "the built-in Fashion-MNIST" }
        guard existing?.descriptionSHA256 == record?.descriptionSHA256, existing?.files == record?.files else {
            throw ExperimentError("\(directory.path): its null models were trained on \(describe(existing)), not on \(describe(record)); build this pool in another directory")
        }
    }

    /// The pool's models, in order.
    /// - Throws: `ExperimentError` naming the first member that is not built.
    public func load() throws -> [TrainedModel] {
        try members.map { m in
            guard FileManager.default.fileExists(atPath: path(m) + "/model.json") else {
                throw ExperimentError("\(path(m)): null model not built; run `honeytrace experiment null-pool --out \(directory.path) --count \(members.count)`")
            }
            return try ModelDirectory.load(path(m))
        }
    }
}
