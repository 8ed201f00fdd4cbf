import ArgumentParser

/// `honeytrace`: protect, attack, verify and benchmark image classifiers.
@main
struct Honeytrace: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "honeytrace",
        abstract: "Neural Honeytrace: training-free watermarks against model extraction.",
        version: Version.description,
        subcommands: [TrainCommand.self, EvaluateCommand.self, PredictCommand.self, ImportCommand.self, ExportCommand.self, WatermarkCommand.self, ProtectCommand.self,
                      CalibrateCommand.self, VerifyCommand.self, PrownCommand.self, ServeCommand.self, ExperimentCommand.self, BenchCommand.self,
                      DAWNCommand.self, BaselineCommand.self, LedgerCommand.self]
    )
}

