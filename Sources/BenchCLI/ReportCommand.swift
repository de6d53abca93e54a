import ArgumentParser
import BenchSpec
import Foundation
import Orchestrator
import Reporting

/// `bench report DIR`: rebuild every report from results.jsonl alone.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rebuild runs.csv, cells.csv, report.md and coverage.svg from a results directory's results.jsonl.")

    @Argument(help: ArgumentHelp("Results directory (or its results.jsonl).", valueName: "dir"))
    var directory: String

    func run() async throws {
        let (dir, jsonl) = ReportFiles.locate(directory)
        let records: [RunRecord]
        do { records = try ResultsLog.read(path: jsonl) } catch { throw fail(error.description, code: 2) }
        guard !records.isEmpty else { throw fail("\(jsonl): no records", code: 2) }
        do { try ReportFiles.write(records: records, to: dir) } catch { throw fail("writing reports: \(error)", code: 1) }
        print("rebuilt reports for \(records.count) records in \(dir)")
    }
}

/// Writes the derived report files of a results directory.
enum ReportFiles {
    static let names = ["runs.csv", "cells.csv", "report.md", "coverage.svg"]

    /// Accepts a directory or a path to its results.jsonl.
    static func locate(_ path: String) -> (directory: String, jsonl: String) {
        if path.hasSuffix(".jsonl") { return ((path as NSString).deletingLastPathComponent, path) }
        return (path, path + "/results.jsonl")
    }

    static func write(records: [RunRecord], to directory: String) throws {
        let set = ResultSet(records: records)
        let files: [(String, String)] = [
            ("runs.csv", runsCSV(set)),
            ("cells.csv", cellsCSV(set)),
            ("report.md", markdownReport(set, plotFile: "coverage.svg")),
            ("coverage.svg", coverageSVG(set)),
        ]
        for (name, text) in files {
            let url = URL(fileURLWithPath: directory).appendingPathComponent(name)
            try Data(text.utf8).write(to: url, options: .atomic)
            chmod(url.path, 0o644)
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
