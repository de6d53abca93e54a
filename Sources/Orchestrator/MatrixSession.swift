import BenchResults
import BenchSpec
import Foundation
import Logging

/// Runs a planned list of runs into one output directory, appending each
/// record to results.jsonl before the next run starts. The caller holds a
/// `DirectoryLock` on the directory so two harnesses cannot interleave.
public struct MatrixSession: Sendable {
    public var harness: Harness
    public var outputDirectory: String
    /// Extra attempts for a run that fails (each attempt is recorded).
    public var retries: Int

    public init(harness: Harness, outputDirectory: String, retries: Int = 1) {
        self.harness = harness
        self.outputDirectory = outputDirectory
        self.retries = retries
    }

    public var resultsPath: String { outputDirectory + "/results.jsonl" }

    /// Runs `plan` in order, skipping runs in `done` (cellID + repetition
    /// already measured, when resuming); `progress` sees each record.
    /// Stops early (records so far kept) when the task is cancelled.
    public func run(
        _ plan: [PlannedRun], done: Set<RunKey> = [], firstSequence: Int = 0,
        progress: @Sendable (RunRecord, Int, Int) -> Void
    ) async throws(OrchestratorError) -> [RunRecord] {
        let log: ResultsLog
        do { log = try ResultsLog(path: resultsPath) } catch { throw .records(error) }
        let runner = harness.runner
        var records: [RunRecord] = []
        var sequence = firstSequence
        let todo = plan.filter { !done.contains(RunKey(cellID: $0.cell.id, repetition: $0.repetition)) }
        for (i, planned) in todo.enumerated() {
            for attempt in 1...(1 + max(0, retries)) {
                if Task.isCancelled { return records }
                let record = await runner.run(planned, sequence: sequence, attempt: attempt)
                if Task.isCancelled && record.status == .failed { return records }  // interrupted: not a measurement
                do { try log.append(record) } catch { throw .records(error) }
                sequence += 1
                records.append(record)
                progress(record, i, todo.count)
                if record.status == .ok { break }
            }
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
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            throw .io(what: "cannot create output directory", path: path, errno: errno)
        }
    }
}

/// Identifies a run across invocations (for `--resume`).
public struct RunKey: Hashable, Sendable {
    public var cellID: String
    public var repetition: Int

    public init(cellID: String, repetition: Int) {
        self.cellID = cellID
        self.repetition = repetition
    }
}

/// An exclusive, non-blocking `flock` on a directory. The kernel drops it
/// when the process dies, so a crash never leaves a stale lock behind.
public final class DirectoryLock: Sendable {
    private let fd: Int32

    public init(_ path: String) throws(OrchestratorError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(what: "cannot open output directory", path: path, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK { throw .outputLocked(path: path) }
            throw .io(what: "cannot lock output directory", path: path, errno: err)
        }
        self.fd = fd
    }

    public func release() { close(fd) }
}
