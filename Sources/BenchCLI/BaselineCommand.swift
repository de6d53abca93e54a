import BenchResults
import ArgumentParser
import BenchSpec
import Foundation
import Orchestrator

/// `bench baseline`: manage the reference results `compare` checks against.
struct BaselineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Manage the committed baseline results that nightly runs are compared with.",
        subcommands: [PromoteCommand.self])
}

/// `bench baseline promote DIR`: make a results directory the baseline.
/// A copy (records with their provenance, and the reports), so the baseline
/// can be committed and does not change when results/ is cleaned.
struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Copy a results directory (records with provenance, and reports) to the baseline directory.",
        discussion: "Refuses a directory without results.jsonl, and an existing baseline unless --force. Exit status: 0 promoted, 2 bad input.")

    static let defaultBaseline = "results/baseline"

    @Argument(help: ArgumentHelp("Results directory to promote (or its results.jsonl).", valueName: "dir"))
    var directory: String

    @Option(help: ArgumentHelp("Baseline directory to write.", valueName: "dir"))
    var to: String = PromoteCommand.defaultBaseline

    @Flag(help: "Replace an existing baseline.")
    var force = false

    func run() async throws {
        let fm = FileManager.default
        let (dir, jsonl) = ReportFiles.locate(directory)
        guard fm.fileExists(atPath: jsonl) else {
            throw fail("\(dir): no results.jsonl; promote a results directory written by 'bench --matrix'", code: 2)
        }
        let records = try ResultsInput.records(jsonl)
        // A link like results/latest is promoted as the directory it points to.
        let source = URL(fileURLWithPath: dir).resolvingSymlinksInPath().standardizedFileURL
        let target = URL(fileURLWithPath: to).standardizedFileURL
        if source.resolvingSymlinksInPath().path == target.resolvingSymlinksInPath().path {
            throw fail("\(directory) is already the baseline \(to)", code: 2)
        }
        var isDir: ObjCBool = false
        let exists = fm.fileExists(atPath: target.path, isDirectory: &isDir)
        if exists, !isDir.boolValue {
            throw fail("--to: invalid value \"\(to)\": exists and is not a directory", code: 2)
        }
        if exists, !force {
            throw fail("\(to): a baseline already exists; pass --force to replace it", code: 2)
        }

        // Copy next to the target, then swap: an interrupted promote never
        // leaves a half-written baseline.
        let parent = target.deletingLastPathComponent()
        let staging = parent.appendingPathComponent(".\(target.lastPathComponent).promote-\(getpid())")
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
            try? fm.removeItem(at: staging)
            try fm.copyItem(at: source, to: staging)
            try ReportFiles.write(records: records, to: staging.path)
            if exists { try fm.removeItem(at: target) }
            try fm.moveItem(at: staging, to: target)
        } catch {
            try? fm.removeItem(at: staging)
            throw fail("promoting \(dir) to \(to): \(error.localizedDescription)", code: 1)
        }
        let p = records.map(\.provenance)
        func distinct(_ f: (Provenance) -> String) -> String { Array(Set(p.map(f))).sorted().joined(separator: ", ") }
        print(
            "promoted \(records.count) runs of matrix \(distinct(\.matrixName)) (hash \(distinct(\.matrixHash))) "
                + "from \(dir) to \(to): git \(distinct(\.gitRevision)), QEMU \(distinct(\.qemuVersion)), "
                + "\(distinct(\.accel)), \(distinct(\.hostCPU))")
    }
}
