import Foundation
import Formats

/// Renders the run records of one experiment directory, or of several (e.g. one grid per victim
/// seed), into `table.md`, `table.csv`, `fig6.svg` (queries needed against WSR) and `evidence.svg`
/// (every copy's E-Acc against the evidence on it), each plot's data beside it as CSV.
public enum ExperimentReport {
    /// Reads every `runs/*.json`; the table is rendered from these files only.
    public static func records(in directory: String) throws -> [RunRecord] {
        let runs = URL(fileURLWithPath: directory).appendingPathComponent("runs")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: runs.path) else {
            throw ExperimentError("\(runs.path): no runs directory; run `honeytrace experiment run` first")
        }
        return try names.filter { $0.hasSuffix(".json") }.sorted().map { name in
            let file = runs.appendingPathComponent(name).path
            do { return try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: file))) } catch {
                throw ExperimentError("\(file): not a run record (\(error))")
            }
        }
    }

    /// Writes the files into `directory` from its own records and returns the Markdown.
    @discardableResult
    public static func render(directory: String, title: String? = nil) throws -> String {
        try render(directories: [directory], into: directory, title: title)
    }

    /// Writes the files into `output` from the records of every directory in `directories` and
    /// returns the Markdown. Cells with runs from several directories (the same thief row, e.g.
    /// one per victim seed) average them and give the spread; `table.csv` keeps one line per run,
    /// with its victim, key and attack seeds.
    ///
    /// - Throws: `ExperimentError` when no directory is given, one is given twice, one holds no
    ///   run records, or `output` cannot be written.
    @discardableResult
    public static func render(directories: [String], into output: String, title: String? = nil) throws -> String {
        guard !directories.isEmpty else { throw ExperimentError("no experiment directory to report") }
        let standardized = directories.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if let twice = standardized.first(where: { p in standardized.filter { $0 == p }.count > 1 }) {
            throw ExperimentError("\(twice) is given twice: each experiment directory's runs may enter a report once")
        }
        var all: [RunRecord] = [], names: [String] = []
        for directory in directories {
            let found = try Self.records(in: directory)
            guard !found.isEmpty else { throw ExperimentError("\(directory)/runs holds no run records yet") }
            all += found
            let manifest = URL(fileURLWithPath: directory).appendingPathComponent("manifest.json")
            if let name = (try? JSONDecoder().decode(ExperimentManifest.self, from: Data(contentsOf: manifest)))?.configuration.name {
                names.append(name)
            }
        }
        let heading = title ?? "Extraction attacks against Fashion-MNIST (\(names.isEmpty ? "experiment" : names.joined(separator: ", ")))"
        let table = ResultTable(records: all)
        let markdown = table.markdown(title: heading)
        let dir = URL(fileURLWithPath: output)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw ExperimentError("\(output): cannot create the report directory (\(error.localizedDescription))")
        }
        try AtomicFile.write(Data(markdown.utf8), to: dir.appendingPathComponent("table.md").path)
        try AtomicFile.write(Data(table.csv().utf8), to: dir.appendingPathComponent("table.csv").path)
        let svg = QueriesPlot.svg(summaries: table.defenses.map(table.summary), title: "Queries needed for a claim vs WSR")
        try AtomicFile.write(Data(svg.utf8), to: dir.appendingPathComponent("fig6.svg").path)
        try AtomicFile.write(Data(QueriesPlot.csv(summaries: table.defenses.map(table.summary)).utf8), to: dir.appendingPathComponent("fig6.csv").path)
        try AtomicFile.write(Data(EvidencePlot.svg(records: all, title: "Copies: accuracy against the owner's evidence").utf8),
                             to: dir.appendingPathComponent("evidence.svg").path)
        try AtomicFile.write(Data(EvidencePlot.csv(records: all).utf8), to: dir.appendingPathComponent("evidence.csv").path)
        return markdown
    }
}
