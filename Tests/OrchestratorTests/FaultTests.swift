import BenchResults
import BenchSpec
import Foundation
import Logging
import Qcow2Geometry
import Testing

@testable import Orchestrator

/// Real faults on real guests: each must end the run within its deadline as
/// a failed record with a cause, and leave no QEMU and no temp file behind.
@Suite(.tags(.guest), .serialized)
struct FaultTests {
    static let cell = Cell(
        geometry: ImageGeometry(diskSize: .mib(256)),
        workload: Workload(ramp: .seconds(0), runtime: .seconds(2)))

    /// Runs `cell` with `adjust` applied to the context; checks cleanup.
    func run(_ adjust: (inout Harness) -> Void) async throws -> RunRecord {
        var h = try await GuestBootTests.harness()
        adjust(&h)
        let work = h.workDirectory.path
        let record = await h.runner.run(PlannedRun(cell: Self.cell, repetition: 1), sequence: 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: work)
        h.shutdown()
        #expect(leftovers.filter { $0.hasPrefix("disk-") || $0.hasPrefix("console-") }.isEmpty, "left in work dir: \(leftovers)")
        #expect(!FileManager.default.fileExists(atPath: work))
        #expect(QemuProcesses.running(commandLineContaining: work).isEmpty, "qemu-system process left behind")
        return record
    }

    @Test func guestThatNeverAnswersIsKilledAtTheDeadline() async throws {
        let record = try await run { h in
            h.context.extraKernelParameters = ["rdinit=/bin/busybox", "--", "sleep", "600"]
            h.context.bootGrace = .seconds(6)
            h.context.drainGrace = .seconds(1)
        }
        #expect(record.status == .failed)
        #expect(record.failure?.hasPrefix("timed out after") == true, "\(record.failure ?? "")")
        #expect(record.failure?.contains("never reached the driver") == true)
        #expect(record.wallSeconds < 40, "not stopped at its deadline")
    }

    @Test func garbageResultLineIsAFailedRunWithTheConsoleTail() async throws {
        let record = try await run { h in
            h.context.extraKernelParameters = ["rdinit=/bin/busybox", "--", "echo", "@@QCB-RESULT@@", "{ops:12,garbage"]
        }
        #expect(record.status == .failed)
        #expect(record.failure?.hasPrefix("guest output unusable: result line does not decode") == true, "\(record.failure ?? "")")
        #expect(record.failure?.contains("{ops:12,garbage") == true)
        #expect(record.consoleTail?.isEmpty == false)
        #expect(record.result == nil)
    }

    @Test func truncatedRecordIsAFailedRun() async throws {
        let record = try await run { h in
            h.context.extraKernelParameters = ["rdinit=/bin/busybox", "--", "echo", "@@QCB-RESULT@@", "{"]
        }
        #expect(record.status == .failed)
        #expect(record.failure?.contains("does not decode") == true, "\(record.failure ?? "")")
    }

    @Test func qemuThatCannotFindItsInitrdFailsWithItsOwnMessage() async throws {
        let record = try await run { h in
            h.context.initramfs.path = h.workDirectory.path + "/missing.cpio"
        }
        #expect(record.status == .failed)
        #expect(record.failure?.hasPrefix("QEMU exited (exit status 1) before the guest reported a result") == true, "\(record.failure ?? "")")
        #expect(record.stderrTail?.joined().contains("missing.cpio") == true)
    }

    @Test func qemuKilledMidRunIsRecordedWithTheSignal() async throws {
        let h = try await GuestBootTests.harness()
        let work = h.workDirectory.path
        let runner = h.runner
        // A run far longer than the test may take: only the kill can end it
        // early, however late this task gets a thread on a loaded machine.
        var long = Self.cell
        long.workload.runtime = .seconds(120)
        let cell = long
        let task = Task { await runner.run(PlannedRun(cell: cell, repetition: 1), sequence: 0) }
        // Wait until this run's QEMU is up and the guest is booting, then
        // SIGKILL it (other suites may run guests in parallel: match the work dir).
        var victim: pid_t?
        for _ in 0..<600 where victim == nil {
            try await Task.sleep(for: .milliseconds(100))
            victim = QemuProcesses.running(commandLineContaining: work).first
        }
        let pid = try #require(victim)
        try await Task.sleep(for: .seconds(1))
        kill(pid, SIGKILL)
        let record = await task.value
        h.shutdown()
        #expect(record.status == .failed)
        #expect(record.failure?.contains("killed by signal 9") == true, "\(record.failure ?? "")")
        #expect(record.wallSeconds < 60, "the run went on after QEMU was killed")
        #expect(QemuProcesses.running(commandLineContaining: work).isEmpty)
    }
}

@Suite struct ResultsLogTests {
    func tempFile() -> String { NSTemporaryDirectory() + "results-\(UUID().uuidString).jsonl" }

    static func record(_ seq: Int) -> RunRecord {
        RunRecord(
            cell: Cell(geometry: ImageGeometry(diskSize: .gib(1))), repetition: 1, sequence: seq, status: .failed,
            failure: "x", result: nil,
            provenance: Provenance(
                qemuVersion: "q", accel: "tcg", accelReason: "r", guestKernel: "k", hostCPU: "c", hostKernel: "h",
                imageFilesystem: "ext4", gitRevision: "g", matrixName: "m", matrixHash: "0", seed: 1, startedAt: "t",
                qemuCommandLine: ["qemu"]),
            prepSeconds: 0, wallSeconds: 0)
    }

    @Test func tornLastLineIsSkippedOnReadAndCutBeforeTheNextAppend() throws {
        let path = tempFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let log = try ResultsLog(path: path)
            try log.append(Self.record(0))
        }
        // Power loss in the middle of the second append.
        let h = try #require(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile()
        h.write(Data(#"{"schemaVersion":1,"tornRecordMarker":"qco"#.utf8))
        try h.close()
        #expect(try ResultsLog.read(path: path).map(\.sequence) == [0])

        let log = try ResultsLog(path: path)
        try log.append(Self.record(1))
        #expect(try ResultsLog.read(path: path).map(\.sequence) == [0, 1])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains("tornRecordMarker"))
        #expect(text.hasSuffix("}\n"))
    }

    @Test func badLineInTheMiddleIsAnErrorWithItsLineNumber() throws {
        let path = tempFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "not json\n{}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: RecordsError.self) { try ResultsLog.read(path: path) }
        do { _ = try ResultsLog.read(path: path) } catch { #expect(error.description.hasPrefix("\(path):1: not a run record")) }
    }

    @Test func secondLockOnADirectoryIsRefused() throws {
        let dir = NSTemporaryDirectory() + "lock-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try DirectoryLock(dir)
        #expect(throws: OrchestratorError.self) { try DirectoryLock(dir) }
        first.release()
        let again = try DirectoryLock(dir)
        again.release()
    }
}

/// Disk full, on a real tiny tmpfs (needs root, as CI has; skipped otherwise).
@Suite(.serialized)
struct DiskFullTests {
    static let isRoot = getuid() == 0

    func withTinyFilesystem(bytes: Int, _ body: (String) async throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "tiny-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mount = try await ToolRunner.run(["mount", "-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", dir])
        try #require(mount.succeeded, "mount tmpfs: \(mount.stderr)")
        do {
            try await body(dir)
        } catch {
            _ = try? await ToolRunner.run(["umount", dir])
            throw error
        }
        _ = try await ToolRunner.run(["umount", dir])
    }

    @Test(.enabled(if: isRoot)) func resultsWriteFailsCleanlyWithOnlyWholeRecords() async throws {
        try await withTinyFilesystem(bytes: 16384) { dir in
            let log = try ResultsLog(path: dir + "/results.jsonl")
            var written = 0
            var failure: RecordsError?
            for i in 0..<100 {
                do {
                    try log.append(ResultsLogTests.record(i))
                    written += 1
                } catch {
                    failure = error as? RecordsError
                    break
                }
            }
            let error = try #require(failure)
            #expect(error.description.contains("No space left on device"), "\(error)")
            #expect(written > 0)
            #expect(try ResultsLog.read(path: dir + "/results.jsonl").count == written)
            let text = try String(contentsOfFile: dir + "/results.jsonl", encoding: .utf8)
            #expect(text.hasSuffix("}\n"))
        }
    }

    @Test(.enabled(if: isRoot), .tags(.guest)) func imagePreparationOnAFullDiskIsAFailedRecord() async throws {
        try await withTinyFilesystem(bytes: 1 << 20) { dir in
            let h = try await GuestBootTests.harness()
            defer { h.shutdown() }
            let work = try WorkDirectory(parent: dir)
            defer { work.remove() }
            let runner = BenchRunner(context: h.context, workDirectory: work, logger: h.logger)
            let cell = Cell(geometry: ImageGeometry(diskSize: .gib(64)), workload: Workload(ramp: .seconds(0), runtime: .seconds(1)))
            let record = await runner.run(PlannedRun(cell: cell, repetition: 1), sequence: 0)
            #expect(record.status == .failed)
            // The build's qemu-img runs by its absolute path (the system build's is found on PATH).
            #expect(record.failure?.hasPrefix("image preparation failed: /") == true, "\(record.failure ?? "")")
            #expect(record.failure?.contains("/qemu-img failed") == true, "\(record.failure ?? "")")
            #expect(record.failure?.contains("No space left on device") == true, "\(record.failure ?? "")")
            #expect(record.wallSeconds == 0, "QEMU must not start without an image")
        }
    }
}
