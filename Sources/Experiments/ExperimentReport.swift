import Foundation
import Formats

/// Renders an experiment directory's run records into `table.md`, `table.csv`, `fig6.svg` (queries
/// needed against WSR) and `evidence.svg` (every copy's E-Acc against the evidence on it), each plot's
/// data beside it as CSV.
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

    /// Writes the files and returns the Markdown.
    @discardableResult
    public static func render(directory: String, title: String? = nil) throws -> String {
        let records = try records(in: directory)
        guard !records.isEmpty else { throw ExperimentError("\(directory)/runs holds no run records yet") }
        let name = (try? JSONDecoder().decode(ExperimentManifest.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))))?.configuration.name
        let heading = title ?? "Extraction attacks against Fashion-MNIST (\(name ?? "experiment"))"
        let table = ResultTable(records: records)
        let markdown = table.markdown(title: heading)
        let dir = URL(fileURLWithPath: directory)
        try AtomicFile.write(Data(markdown.utf8), to: dir.appendingPathComponent("table.md").path)
        try AtomicFile.write(Data(table.csv().utf8), to: dir.appendingPathComponent("table.csv").path)
        let svg = QueriesPlot.svg(summaries: table.defenses.map(table.summary), title: "Queries needed for a claim vs WSR")
        try AtomicFile.write(Data(svg.utf8), to: dir.appendingPathComponent("fig6.svg").path)
        try AtomicFile.write(Data(QueriesPlot.csv(summaries: table.defenses.map(table.summary)).utf8), to: dir.appendingPathComponent("fig6.csv").path)
        try AtomicFile.write(Data(EvidencePlot.svg(records: records, title: "Copies: accuracy against the owner's evidence").utf8),
                             to: dir.appendingPathComponent("evidence.svg").path)
        try AtomicFile.write(Data(EvidencePlot.csv(records: records).utf8), to: dir.appendingPathComponent("evidence.csv").path)
        return markdown
    }
}
