import Datasets
import TensorEngine

/// The source classes k and j whose composites answer the target class t.
public struct CompositeClasses: Codable, Sendable, Equatable {
    public var k: Int, j: Int, target: Int

    /// Fashion-MNIST's coat (4) and shirt (6) mixed into ankle boot (9), the paper's indices.
    public static let fashionMNIST = CompositeClasses(k: 4, j: 6, target: 9)

    public init(k: Int, j: Int, target: Int) {
        self.k = k
        self.j = j
        self.target = target
    }

    public func validate(classes: Int) throws {
        guard [k, j, target].allSatisfy({ (0..<classes).contains($0) }) else {
            throw BaselineError(.invalidConfiguration, "classes k \(k), j \(j) and target \(target) must lie in 0..<\(classes)")
        }
        guard Set([k, j, target]).count == 3 else {
            throw BaselineError(.invalidConfiguration, "classes k \(k), j \(j) and target \(target) must differ")
        }
    }
}

/// The extra samples of the composite-style baselines, each set drawn from a seed: poison
/// composites (a k image and a j image, labelled t), "mix" cover composites (two images of one
/// class, labelled with it) and MEA-Defender's evasion samples.
public enum CompositeSamples {
    /// `count` composites of a class-k and a class-j image of `data`, labelled `classes.target`.
    /// With held-out images these are the fresh composites a verifier queries.
    public static func poison(from data: ImageDataset, classes: CompositeClasses, count: Int, mixer: CompositeMixer,
                              seed: UInt64, name: String? = nil) throws -> ImageDataset {
        let (ks, js) = try sourceIndices(data, classes)
        var g = SeededGenerator(seed: seed)
        var pixels: [Float] = []
        pixels.reserveCapacity(count * data.imageSize)
        for _ in 0..<count {
            let a = ks[g.nextInt(below: ks.count)], b = js[g.nextInt(below: js.count)]
            pixels += composite(data, a, b, mixer: mixer, generator: &g)
        }
        return try labelled(data, pixels, labels: Array(repeating: classes.target, count: count), name: name ?? "\(data.name)/poison-composites")
    }

    /// `count` composites of two different images of one class, labelled with that class: a
    /// random image, then a random other image of its class.
    public static func cover(from data: ImageDataset, count: Int, mixer: CompositeMixer, seed: UInt64) throws -> ImageDataset {
        var byClass = [Int: [Int]]()
        for (i, y) in data.labels.enumerated() { byClass[y, default: []].append(i) }
        guard byClass.values.contains(where: { $0.count >= 2 }) || count == 0 else {
            throw BaselineError(.unusableData, "\(data.name) has no class with two images to compose cover samples from")
        }
        var g = SeededGenerator(seed: seed)
        var pixels: [Float] = [], labels: [Int] = []
        pixels.reserveCapacity(count * data.imageSize)
        while labels.count < count {
            let a = g.nextInt(below: data.count)
            let peers = byClass[data.labels[a]]!
            guard peers.count >= 2 else { continue }
            var b = a
            while b == a { b = peers[g.nextInt(below: peers.count)] }
            pixels += composite(data, a, b, mixer: mixer, generator: &g)
            labels.append(data.labels[a])
        }
        return try labelled(data, pixels, labels: labels, name: "\(data.name)/cover-composites")
    }

    /// `count` evasion samples: a class-k and a class-j image in random order, combined by the
    /// evasion mixers in turn, each labelled with the class of the image that comes first.
    public static func evasion(from data: ImageDataset, classes: CompositeClasses, count: Int, seed: UInt64) throws -> ImageDataset {
        let (ks, js) = try sourceIndices(data, classes)
        var g = SeededGenerator(seed: seed)
        var pixels: [Float] = [], labels: [Int] = []
        for n in 0..<count {
            var a = ks[g.nextInt(below: ks.count)], b = js[g.nextInt(below: js.count)]
            if g.nextInt(below: 2) == 1 { swap(&a, &b) }
            let mixer = EvasionMixer.allCases[n % EvasionMixer.allCases.count]
            pixels += mixer.mix(image(data, a), image(data, b), channels: data.channels, height: data.height, width: data.width)
            labels.append(data.labels[a])
        }
        return try labelled(data, pixels, labels: labels, name: "\(data.name)/evasion-samples")
    }

    /// The image of `data` at `index`, as a slice of its pixels.
    static func image(_ data: ImageDataset, _ index: Int) -> ArraySlice<Float> {
        data.pixels[(index * data.imageSize)..<((index + 1) * data.imageSize)]
    }

    private static func composite(_ data: ImageDataset, _ a: Int, _ b: Int, mixer: CompositeMixer,
                                  generator g: inout SeededGenerator) -> [Float] {
        let layout = mixer.layout(height: data.height, width: data.width, generator: &g)
        return CompositeMixer.compose(image(data, a), image(data, b), channels: data.channels, height: data.height,
                                      width: data.width, layout: layout)
    }

    static func sourceIndices(_ data: ImageDataset, _ classes: CompositeClasses) throws -> (k: [Int], j: [Int]) {
        let ks = data.indices(ofClass: classes.k), js = data.indices(ofClass: classes.j)
        guard !ks.isEmpty, !js.isEmpty else {
            throw BaselineError(.unusableData, "\(data.name) holds \(ks.count) images of class k = \(classes.k) and \(js.count) of class j = \(classes.j); composites need both")
        }
        return (ks, js)
    }

    private static func labelled(_ like: ImageDataset, _ pixels: [Float], labels: [Int], name: String) throws -> ImageDataset {
        try ImageDataset(name: name, pixels: pixels, labels: labels, channels: like.channels, height: like.height,
                         width: like.width, classCount: like.classCount).withRole(like.role)
    }
}
