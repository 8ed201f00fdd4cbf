import ArgumentParser
import Experiments
import Foundation
import Training

/// Which grid a command runs: a JSON configuration or a preset, and optionally a victim to use.
struct GridOptions: ParsableArguments {
    @Argument(help: "Experiment configuration (JSON), unless --preset is given.") var config: String?
    @Option(help: "Preset: smoke, smoke-heldout, demo, fmnist, fmnist-quick, or heldout-, baselines-, crossarch- or oracle-<fmnist-cnn|resnet-8>-v<1|2|3>.") var preset: String?
    @Option(help: "Use this victim model directory instead of training one.") var victim: String?
    @Option(help: ArgumentHelp("The owner's data set: a data-set description (a JSON file or a directory holding dataset.json).", discussion: """
        Sets the configuration's ownerDataset: the victim trains on its train part, the key, probe and calibration \
        come from its owner_validation part, reported figures from its test part. The thieves' pools must hold \
        images of its shape (the "described" pool with an attackerDataset).
        """)) var data: String?

    /// The configuration these options name.
    func load() throws -> ExperimentConfiguration {
        var configuration: ExperimentConfiguration
        switch (config, preset) {
        case (let file?, nil):
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(file): cannot read the configuration") }
            do { configuration = try JSONDecoder().decode(ExperimentConfiguration.self, from: data) } catch {
                throw ValidationError("\(file): not an experiment configuration: \(error)")
            }
            for warning in ExperimentConfiguration.deprecatedFields(in: data) { ProgressBar.writeError("warning: \(file): \(warning)\n") }
        case (nil, let name?): configuration = try ExperimentConfiguration.preset(name)
        default: throw ValidationError("give either a configuration file or --preset NAME")
        }
        if let victim { configuration.victim.directory = victim }
        if let data {
            configuration.ownerDataset = ExperimentDataSet(path: data)
            if configuration.ownerData != nil { configuration.ownerData = .described }
        }
        return configuration
    }

    /// These options as arguments of another `experiment` command.
    var arguments: [String] {
        var a: [String] = []
        if let config { a.append(config) }
        if let preset { a += ["--preset", preset] }
        if let victim { a += ["--victim", victim] }
        if let data { a += ["--data", data] }
        return a
    }
}
