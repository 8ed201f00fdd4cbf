import ArgumentParser
import Experiments
import Foundation

/// `experiment slurm`: writes the sbatch scripts that run a grid on a Slurm cluster (`SlurmScripts`).
struct ExperimentSlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Write sbatch scripts that run a grid on a Slurm cluster, one array task per cell (docs/slurm.md).",
        discussion: """
            Writes DIR/slurm/: a prepare job (victim, key, shared artefacts), one array job per column with one \
            task per cell, costliest first (each defended task after its undefended partner), a finishing job \
            (manifest and report) and submit.sh, which submits them and prints the job ids. Every job runs with \
            --threads, so the records match a local `experiment run --threads N` bitwise. Jobs run in the current \
            directory. Running submit.sh again resumes: a task whose record exists exits at once.
            """)

    @OptionGroup var grid: GridOptions
    @Option(help: "Experiment directory (every node must reach it).") var out: String
    @Option(help: "Slurm partition of every job.") var partition: String?
    @Option(help: "Wall-time limit of every job, HH:MM:SS or D-HH:MM:SS.") var time: String?
    @Option(help: "CPUs of every job (default: --threads).") var cpusPerTask: Int?
    @Option(help: "The honeytrace executable the jobs start (default: this one; every node must reach it).") var binary: String?
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        let configuration = try grid.load()
        let directory = URL(fileURLWithPath: out).standardizedFileURL.path
        let runner = try ExperimentRunner(configuration: configuration, directory: directory)
        let executable = binary.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? ExperimentWorkers.executable.path
        let scripts = try SlurmScripts(runner: runner, options: .init(binary: executable, threads: compute.threads, cpusPerTask: cpusPerTask,
                                                                      partition: partition, time: time))
        let submit = try scripts.write()
        for column in scripts.columns { print("\(column.defense): \(column.cells.count) array tasks, costliest first") }
        print("wrote \(directory)/slurm (engine threads per job: \(compute.threads)); submit with: \(submit)")
    }
}
