import ArgumentParser
import Datasets
import Foundation
import Honeytrace
import Training

struct WatermarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watermark",
        abstract: "Create and inspect secret watermark keys.",
        subcommands: [WatermarkCreate.self, WatermarkInspect.self])
}

struct WatermarkCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a watermark key for a model from the owner's held-out data (by default Fashion-MNIST's owner validation split train[45000..<50000], never the test set).")

    @Argument(help: "Model directory the key protects.") var model: String
    @Option(help: "Key file to write (owner-only permissions).") var out: String
    @Option(help: ArgumentHelp("Recipe: white-block, composite or logo.", discussion: """
        white-block is the default: KnockoffNet surrogates of defended fmnist-cnn and resnet-8 victims (MNIST-5k \
        queries) learned a specific "block → target" watermark, where composites planted only a bias toward the \
        target (docs/results/README.md).
        """)) var recipe = "white-block"
    @Option(help: "Composite: class of the base image (k; default 4).") var sourceClass: Int?
    @Option(help: "Composite: class whose region is pasted in (j; default 6).") var otherClass: Int?
    @Option(help: "Target class t.") var target = 9
    @Option(help: "Number of watermarks n.") var count = 50
    @Option(help: ArgumentHelp("White block: side in pixels (default: 3 on 28×28, 5 on 32×32).", discussion: """
        Larger blocks planted more evidence on a resnet-8 victim. Near the bottom corners, 5 and 7 px blocks on \
        28×28 also made the undefended API's surrogates of another model (fmnist-cnn) answer the target (9) on \
        20–33 % of triggers: false claims; near the top corners on none (--corner top-left). Check a larger block \
        against such foreign surrogates (docs/results/verify-foreign.sh) first.
        """)) var blockSize: Int?
    @Option(help: "White block and logo: the corner the mark sits near (bottom-right, bottom-left, top-right or top-left; default bottom-right).")
    var corner: String?
    @Option(help: ArgumentHelp("Mixing power α of the defense (the paper: 2).", discussion: """
        8 by default: mixing fewer answers toward the target taught KnockoffNet surrogates less bias and more \
        specific watermark (docs/results/README.md). `honeytrace calibrate --mixing-powers` can search it.
        """)) var mixingPower: Float = 8
    @Option(help: "Where flip draws come from: keyed-neighbourhood (default; survives averaging over augmented copies), keyed (the input's bytes, docs/algorithms.md §2.7) or fresh-<seed>.")
    var randomness = "keyed-neighbourhood"
    @Option(help: "Held-out images (.npy) with --held-out-labels; default: --data's owner-validation part (Fashion-MNIST: train[45000..<50000]).") var heldOut: String?
    @Option(help: "Labels (.npy) of --held-out.") var heldOutLabels: String?
    @Option(help: "Seed for choosing the images (the secret stays random unless --secret-from-seed).") var seed: UInt64 = 0
    @Flag(help: "Derive the HMAC secret from the seed (reproducible, for experiments only).") var secretFromSeed = false
    @OptionGroup var dataSet: DataSetOptions
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let trained = try ModelDirectory.load(model)
        let data: ImageDataset
        if let heldOut {
            guard let heldOutLabels else { throw ValidationError("--held-out needs --held-out-labels") }
            data = try NPYImages.load(heldOut, labelsPath: heldOutLabels)
        } else {
            data = try dataSet.ownerHeldOut()
            if let warning = dataSet.seenOwnerValidationWarning(model: trained.manifest) {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
        }
        var markCorner: WatermarkRecipe.Corner?
        if let corner {
            guard let c = WatermarkRecipe.Corner(rawValue: corner) else {
                throw ValidationError("--corner '\(corner)': expected one of \(WatermarkRecipe.Corner.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard recipe != "composite" else { throw ValidationError("--corner applies to --recipe white-block and logo only (the recipe is composite)") }
            markCorner = c
        }
        let r: WatermarkRecipe
        switch recipe {
        case "composite": r = .composite(sourceClass: sourceClass ?? 4, otherClass: otherClass ?? 6, target: target)
        case "white-block": r = .whiteBlock(target: target, size: blockSize, corner: markCorner)
        case "logo": r = .logo(target: target, corner: markCorner)
        default: throw ValidationError("--recipe '\(recipe)': expected white-block, composite or logo")
        }
        if recipe != "white-block" && blockSize != nil {
            throw ValidationError("--block-size applies to --recipe white-block only (the recipe is \(recipe))")
        }
        if recipe != "composite" && (sourceClass != nil || otherClass != nil) {
            throw ValidationError("--source-class and --other-class apply to --recipe composite only (the recipe is \(recipe))")
        }
        var options = WatermarkKey.CreationOptions()
        options.count = count
        if secretFromSeed { options.secret = .derivedFromSeed }
        guard mixingPower > 0, mixingPower.isFinite else { throw ValidationError("--mixing-power must be positive, found \(mixingPower)") }
        guard let draws = DefenseConfiguration.Randomness(argument: randomness) else {
            throw ValidationError("--randomness '\(randomness)': expected keyed-neighbourhood, keyed or fresh-<seed>")
        }
        var defense = DefenseConfiguration.recommended
        defense.mixingPower = mixingPower
        defense.randomness = draws
        let key = try WatermarkKey.create(model: trained, heldOut: data, recipe: r, defense: defense, options: options, seed: seed)
        try key.save(to: out)
        print("wrote \(out) (\(key.count) \(recipe) watermarks → class \(key.target)); calibrate d with: honeytrace calibrate \(model) --key \(out)")
    }
}

struct WatermarkInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a key's recipe, sizes, model binding and defense settings (never the secret).")

    @Argument(help: "Key file.") var key: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let k = try WatermarkKey.load(key)
        if json {
            // Keeps the first of any repeated label rather than trapping in `uniqueKeysWithValues`.
            try printJSON(Dictionary(k.summary.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first }))
        } else {
            let width = k.summary.map(\.0.count).max() ?? 0
            for (name, value) in k.summary { print("\(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)") }
        }
    }
}
