import BenchSpec
import Foundation
import Logging

/// Runs a planned list of runs into one output directory, appending each
/// record to results.jsonl before the next run starts.
public struct MatrixSession: Sendable {
    public var harness: Harness
    public var outputDirectory: String

    public init(harness: Harness, outputDirectory: String) {
        self.harness = harness
        self.outputDirectory = outputDirectory
    }

    public var resultsPath: String { outputDirectory + "/results.jsonl" }

    /// Runs `plan` in order; `progress` sees each finished record with its
    /// index. Stops early (records so far kept) when the task is cancelled.
    public func run(
        _ plan: [PlannedRun], progress: @Sendable (RunRecord, Int, Int) -> Void
    ) async throws(OrchestratorError) -> [RunRecord] {
        let log = try ResultsLog(path: resultsPath)
        let runner = harness.runner
        var records: [RunRecord] = []
        for (i, planned) in plan.enumerated() {
            if Task.isCancelled { break }
            let record = await runner.run(planned, sequence: i)
            if Task.isCancelled && record.status == .failed { break }  // interrupted mid-run: not a measurement
            try log.append(record)
            records.append(record)
            progress(record, i, plan.count)
        }
        return records
    }

    /// Creates the output directory (0755; records are not secret) or
    /// refuses a path that is a file.
    public static func prepareOutput(_ path: String) throws(OrchestratorError) {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw .outputNotDirectory(path: path) }
            return
        }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw .io(what: "cannot create output directory", path: path, errno: errno)
        }
    }
}
