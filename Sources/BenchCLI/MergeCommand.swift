import BenchResults
import ArgumentParser
import BenchSpec
import Foundation
import Orchestrator
import Reporting

/// `bench merge OUT DIR...`: join the directories of `--shard` runs into one
/// results directory, with the same reports as `bench report`.
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the results directories of a sharded matrix run (--shard I/N) into one.",
        discussion: """
            Refuses shards of different matrices (matrix hash), a cell present in two shards, a missing or repeated \
            shard (records carry their shard I/N), and an OUT that \
            already holds results.jsonl. Run order (sequence) becomes the shards in the order given, each in its \
            own order. Exit status: 0 merged, 2 bad input.
            """)

    @Argument(help: ArgumentHelp("Directory to write the merged results to.", valueName: "out"))
    var output: String

    @Argument(help: ArgumentHelp("Shard results directories (or their results.jsonl).", valueName: "dir"))
    var shards: [String] = []

    func validate() throws {
        guard !shards.isEmpty else { throw ValidationError("missing shard directories: bench merge OUT DIR...") }
        if FileManager.default.fileExists(atPath: output + "/results.jsonl") {
            throw ValidationError(
                "\(output): already holds results.jsonl; choose a new directory (results are never overwritten)")
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDir), !isDir.boolValue {
            throw ValidationError("\(output): exists and is not a directory")
        }
    }

    func run() async throws {
        var inputs: [ShardRecords] = []
        for path in shards {
            inputs.append(ShardRecords(source: path, records: try ResultsInput.records(path)))
        }
        let merged: [RunRecord]
        do { merged = try mergeShards(inputs) } catch { throw fail(error.description, code: 2) }

        do {
            let data = try ResultsLog.lines(merged)
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let url = URL(fileURLWithPath: output).appendingPathComponent("results.jsonl")
            try data.write(to: url, options: .atomic)
            chmod(url.path, 0o644)
            try ReportFiles.write(records: merged, to: output)
        } catch {
            throw fail("writing \(output): \(error.localizedDescription)", code: 1)
        }
        let cells = Set(merged.map(\.cellID)).count
        print("merged \(merged.count) runs of \(cells) cells from \(shards.count) shards into \(output)")
    }
}
