import ArgumentParser
import BenchResults
import BenchSpec
import Foundation
import Orchestrator
import Reporting

/// `bench report DIR`: rebuild every report from results.jsonl alone, and
/// with `--update-docs FILE` the results table of a document.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rebuild runs.csv, cells.csv, report.md, coverage.svg and the other figures from a results directory's results.jsonl.")

    @Argument(help: ArgumentHelp("Results directory (or its results.jsonl).", valueName: "dir"))
    var directory: String

    @Option(
        name: .customLong("update-docs"),
        help: ArgumentHelp(
            "Also replace the text between <!-- bench:results:begin --> and <!-- bench:results:end --> in FILE with the coverage table and a link to the plot.",
            valueName: "file"))
    var docsFile: String?

    @Option(
        name: .customLong("docs-section"),
        help: ArgumentHelp(
            "Which marker pair --update-docs fills: <!-- bench:NAME:begin --> ... <!-- bench:NAME:end -->, so one document can show several results directories.",
            valueName: "name"))
    var docsSection = "results"

    func validate() throws {
        guard DocsMarkers(validating: docsSection) != nil else {
            throw ValidationError("--docs-section: invalid value \"\(docsSection)\": must be 1 to 40 lowercase letters, digits or '-'")
        }
        if docsSection != "results", docsFile == nil {
            throw ValidationError("--docs-section: invalid value \"\(docsSection)\": only used with --update-docs FILE")
        }
    }

    func run() async throws {
        let dir = ReportFiles.locate(directory).directory
        let records = try ResultsInput.records(directory)
        // Check the document before writing anything: bad input changes nothing.
        let markers = DocsMarkers(validating: docsSection) ?? .results
        let docs = try docsFile.map {
            try DocsUpdate.prepare(file: $0, records: records, resultsDirectory: dir, markers: markers)
        }
        do { try ReportFiles.write(records: records, to: dir) } catch { throw fail("writing reports: \(error)", code: 1) }
        print("rebuilt reports for \(records.count) records in \(dir)")
        if let docs {
            do { try docs.apply() } catch { throw fail("writing \(docs.file): \(error.localizedDescription)", code: 1) }
            print(
                docs.changed
                    ? "updated the \(docsSection) table in \(docs.file)" : "\(docs.file): \(docsSection) table already up to date")
        }
    }
}

/// `--update-docs FILE`: the generated results table for a document, checked
/// (file readable, markers present) before anything is written.
struct DocsUpdate {
    let file: String
    let original: String
    let updated: String

    var changed: Bool { original != updated }

    static func prepare(file: String, records: [RunRecord], resultsDirectory: String, markers: DocsMarkers) throws -> DocsUpdate {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw fail("--update-docs: invalid value \"\(file)\": cannot read the file", code: 2)
        }
        let text = String(decoding: data, as: UTF8.self)
        // The plot link is relative to the document, wherever either lives.
        let docDirectory = URL(fileURLWithPath: file).standardizedFileURL.deletingLastPathComponent().path
        let plot = URL(fileURLWithPath: resultsDirectory).standardizedFileURL.appendingPathComponent("coverage.svg").path
        let table = docsResultsTable(ResultSet(records: records), plotPath: relativePath(from: docDirectory, to: plot))
        do {
            return DocsUpdate(file: file, original: text, updated: try replacingResultsSection(in: text, with: table, markers: markers))
        } catch {
            throw fail("\(file): \(error.description)", code: 2)
        }
    }

    /// Writes the document only when the table changed.
    func apply() throws {
        guard changed else { return }
        try Data(updated.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
    }
}

/// Writes the derived report files of a results directory.
enum ReportFiles {
    /// Accepts a directory or a path to its results.jsonl.
    static func locate(_ path: String) -> (directory: String, jsonl: String) {
        if path.hasSuffix(".jsonl") { return ((path as NSString).deletingLastPathComponent, path) }
        return (path, path + "/results.jsonl")
    }

    /// Writes every derived file, then removes figures an earlier report
    /// wrote that these records no longer produce (a knob no longer varied),
    /// so the directory never shows a figure its report.md does not match.
    static func write(records: [RunRecord], to directory: String) throws {
        let files = reportFiles(ResultSet(records: records))
        let written = Set(files.map(\.name))
        for file in files {
            let (name, text) = (file.name, file.text)
            let url = URL(fileURLWithPath: directory).appendingPathComponent(name)
            try Data(text.utf8).write(to: url, options: .atomic)
            chmod(url.path, 0o644)
        }
        let present = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in present where isReportFigure(name) && !written.contains(name) {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }

    /// `results/latest` -> the newest run directory (relative link).
    static func pointLatest(at directory: String) {
        let parent = (directory as NSString).deletingLastPathComponent
        let link = parent + "/latest"
        try? FileManager.default.removeItem(atPath: link)
        try? FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: (directory as NSString).lastPathComponent)
    }
}
