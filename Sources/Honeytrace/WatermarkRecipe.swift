/// How watermark images are made (docs/algorithms.md §3): the key stores the recipe so that verification
/// can build fresh triggers of the same kind from the owner's held-out data.
public struct WatermarkRecipe: Codable, Sendable, Equatable {
    /// The kind of watermark.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// An image of class k with one region replaced by the same region of a class-j image
        /// (MEA-Defender's composite; the default).
        case composite
        /// A small white square stamped near the bottom-right corner of a clean image.
        case whiteBlock = "white-block"
        /// A small logo (the owner's mark) pasted near the bottom-right corner of a clean image.
        case logo
    }

    /// The region a composite takes from its second image.
    public enum Region: String, Codable, Sendable, CaseIterable {
        /// Rows H/2..<H, columns W/2..<W (docs/algorithms.md §3 for 28×28 and 32×32 inputs).
        case bottomRightQuadrant = "bottom-right-quadrant"
        /// Rows H/2..<H, all columns (docs/algorithms.md §3 for larger inputs).
        case bottomHalf = "bottom-half"

        /// The default for an image size: the quadrant up to 32×32, the bottom half above.
        public static func automatic(height: Int, width: Int) -> Region {
            max(height, width) <= 32 ? .bottomRightQuadrant : .bottomHalf
        }

        /// The rows and columns the region covers.
        public func bounds(height: Int, width: Int) -> (rows: Range<Int>, columns: Range<Int>) {
            switch self {
            case .bottomRightQuadrant: return (height / 2..<height, width / 2..<width)
            case .bottomHalf: return (height / 2..<height, 0..<width)
            }
        }
    }

    /// The image corner a white block or logo is stamped near.
    public enum Corner: String, Codable, Sendable, CaseIterable {
        case bottomRight = "bottom-right"
        case bottomLeft = "bottom-left"
        case topRight = "top-right"
        case topLeft = "top-left"
    }

    public var kind: Kind
    /// The target class t that watermarked queries are steered to.
    public var target: Int
    /// Composite: class k of the base image (required). White block and logo: the class of
    /// the clean images they are stamped on (nil: any class but the target).
    public var sourceClass: Int?
    /// Composite: class j whose region is pasted in (required).
    public var otherClass: Int?
    /// Composite: the region (nil: `Region.automatic` for the image size).
    public var region: Region?
    /// White block: side length in pixels (nil: 3 on 28×28, 5 on 32×32, 5/32 of the width above).
    public var blockSize: Int?
    /// Logo: the mark (nil: the built-in mark). Stored in the key file as tensors, not in the
    /// recipe's JSON.
    public var logo: LogoMark?
    /// White block and logo: the corner the mark sits near (nil: bottom-right, as in keys made
    /// before the option existed).
    public var corner: Corner?

    public init(kind: Kind, target: Int, sourceClass: Int? = nil, otherClass: Int? = nil, region: Region? = nil,
                blockSize: Int? = nil, logo: LogoMark? = nil, corner: Corner? = nil) {
        self.kind = kind
        self.target = target
        self.sourceClass = sourceClass
        self.otherClass = otherClass
        self.region = region
        self.blockSize = blockSize
        self.logo = logo
        self.corner = corner
    }

    /// A composite recipe (defaults: docs/algorithms.md §3 and §9, classes 4 + 6 → 9).
    public static func composite(sourceClass: Int = 4, otherClass: Int = 6, target: Int = 9,
                                 region: Region? = nil) -> WatermarkRecipe {
        WatermarkRecipe(kind: .composite, target: target, sourceClass: sourceClass, otherClass: otherClass, region: region)
    }

    /// A white-block recipe (EWE's trigger shape).
    public static func whiteBlock(target: Int = 9, sourceClass: Int? = nil, size: Int? = nil,
                                  corner: Corner? = nil) -> WatermarkRecipe {
        WatermarkRecipe(kind: .whiteBlock, target: target, sourceClass: sourceClass, blockSize: size, corner: corner)
    }

    /// A logo recipe; nil uses the built-in mark.
    public static func logo(_ mark: LogoMark? = nil, target: Int = 9, sourceClass: Int? = nil,
                            corner: Corner? = nil) -> WatermarkRecipe {
        WatermarkRecipe(kind: .logo, target: target, sourceClass: sourceClass, logo: mark, corner: corner)
    }

    /// The corner a white block or logo sits near.
    public var resolvedCorner: Corner { corner ?? .bottomRight }

    /// The composite region for an image size.
    public func resolvedRegion(height: Int, width: Int) -> Region {
        region ?? Region.automatic(height: height, width: width)
    }

    /// The white block's side for an image size.
    public func resolvedBlockSize(height: Int, width: Int) -> Int {
        if let blockSize { return blockSize }
        let side = min(height, width)
        if side <= 28 { return max(1, min(3, side)) }
        if side <= 32 { return 5 }
        return max(5, Int((Float(side) * 5 / 32).rounded()))
    }

    /// The classes whose held-out images serve as base images (and, for composites, donors).
    public func baseClasses(classes: Int) -> [Int] {
        if let sourceClass { return [sourceClass] }
        return (0..<classes).filter { $0 != target }
    }

    /// Throws a `HoneytraceError` when the recipe does not fit `classes` and images of `inputShape`.
    public func validate(classes: Int, inputShape: [Int]) throws {
        func fail(_ problem: String) -> HoneytraceError { HoneytraceError(.invalidArgument, "watermark recipe: \(problem)") }
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw fail("input shape must be [channels, height, width], found \(inputShape)")
        }
        let (h, w) = (inputShape[1], inputShape[2])
        guard (0..<classes).contains(target) else { throw fail("target class \(target) is outside 0..<\(classes)") }
        if let k = sourceClass, !(0..<classes).contains(k) { throw fail("source class \(k) is outside 0..<\(classes)") }
        if let k = sourceClass, k == target, kind != .composite {
            throw fail("source class \(k) is the target class; stamped images must come from another class")
        }
        switch kind {
        case .composite:
            guard corner == nil else { throw fail("a composite has no corner; the corner applies to white blocks and logos") }
            guard let k = sourceClass, let j = otherClass else {
                throw fail("a composite needs a source class k and another class j")
            }
            guard (0..<classes).contains(j) else { throw fail("other class \(j) is outside 0..<\(classes)") }
            guard k != j else { throw fail("source class and other class must differ (both \(k))") }
            guard k != target, j != target else { throw fail("classes \(k) and \(j) must both differ from the target \(target)") }
            guard h >= 2 else { throw fail("images of height \(h) have no bottom half to replace") }
        case .whiteBlock:
            let s = resolvedBlockSize(height: h, width: w)
            guard s >= 1, s <= min(h, w) else { throw fail("block size \(s) does not fit \(h)×\(w) images") }
        case .logo:
            guard min(h, w) >= 3 else { throw fail("a logo needs images of at least 3×3 pixels, found \(h)×\(w)") }
            if let logo, logo.height > h || logo.width > w {
                throw fail("logo of \(logo.height)×\(logo.width) does not fit \(h)×\(w) images")
            }
        }
    }

    private enum CodingKeys: String, CodingKey {
        case kind, target, sourceClass = "source_class", otherClass = "other_class", region, blockSize = "block_size", corner
    }
}
