import BenchResults
import BenchSpec
import Foundation
import Orchestrator
import Testing

/// Shared guests through the real binary: cells paired in one guest, a guest
/// that dies mid-schedule, Ctrl-C mid-block and `--resume`.
@Suite(.tags(.endToEnd), .serialized)
struct SharedGuestTests {
    static func matrix(blocks: Int, runtime: String = "1s") -> String {
        """
        name = "shared"
        [workload]
        ramp = "1s"
        runtime = "\(runtime)"
        repeat = \(blocks)
        [image]
        disk_size = ["1G"]
        [cache]
        l2_cache_size = ["16K", "default"]
        [reference]
        null = true
        """
    }

    func setUp(blocks: Int) throws -> (dir: String, file: String, tmp: String) {
        let dir = try makeTempDir()
        let file = dir + "/m.toml"
        try Self.matrix(blocks: blocks).write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        return (dir, file, dir + "/tmp")
    }

    static func lines(_ path: String) -> Int {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// Starts `bench` in the background with TMPDIR under the test's dir.
    static func start(_ args: [String], tmp: String) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: benchBinary())
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        p.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": tmp]) { $1 }
        try p.run()
        return (p, err)
    }

    static func waitFor(seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            try await Task.sleep(for: .milliseconds(100))
        }
        return true
    }

    @Test func cellsArePairedInOneGuestAndReportsRebuild() async throws {
        let (dir, file, tmp) = try setUp(blocks: 3)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out"
        let run = try await bench(["--matrix", file, "--output", out], tmpdir: tmp)
        #expect(exitCode(run) == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("finished 9 slots in 3 blocks"), "\(run.stdout)")
        #expect(run.stdout.contains("QEMU ran"), "\(run.stdout)")

        let records = try ResultsLog.read(path: out + "/results.jsonl")
        #expect(records.count == 9)
        #expect(records.allSatisfy { $0.status == .ok && $0.slot?.guest == 1 })
        for block in 1...3 {
            let slots = records.filter { $0.repetition == block }
            #expect(Set(slots.map(\.cellID)).count == 3, "block \(block) runs every cell once")
            #expect(slots.compactMap(\.slot?.position).sorted() == [0, 1, 2])
        }
        #expect(records.allSatisfy { ($0.slot?.host?.qemuVcpuMillis ?? 0) > 0 }, "vCPU time is sampled per slot")
        // The driver spins up to a second before it sleeps, so a disk that
        // keeps completing writes never lets it sleep; a spin bounded by a
        // count of polls slept hundreds of times per slot.
        #expect(
            records.allSatisfy { r in r.slot.map { s in s.blockingWaits.map { $0 <= 2 } ?? false } ?? false },
            "every slot counts the driver's blocking waits, and there are none to speak of: \(records.map { $0.slot?.blockingWaits ?? 999 })")
        #expect(records.allSatisfy { $0.hostBootMillis != nil && !$0.provenance.qemuCommandLine.isEmpty })
        // The guest finds each disk's virtio interrupts, and a driver that
        // spins on the ring takes far fewer than one per write.
        #expect(
            records.allSatisfy { r in r.slot?.interrupts.map { n in Double(n) < 0.5 * Double(r.result?.ops ?? 0) } ?? false },
            "every slot counts the disk's interrupts: \(records.map { ($0.slot?.interrupts, $0.result?.ops) })")

        let cells = try String(contentsOfFile: out + "/cells.csv", encoding: .utf8)
        #expect(cells.contains("shared,3,qcow2-preallocated-1G-c64K-l2=default"), "\(cells)")
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        #expect(report.contains("## Paired ratios"))
        #expect(report.contains("| L2 16K | 12.50% |"), "\(report)")

        var before: [String: Data] = [:]
        for n in ["runs.csv", "cells.csv", "report.md", "coverage.svg"] {
            before[n] = try Data(contentsOf: URL(fileURLWithPath: out + "/" + n))
        }
        let rebuilt = try await bench(["report", out])
        #expect(exitCode(rebuilt) == 0)
        for (n, data) in before {
            #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/" + n)) == data, "\(n) differs after bench report")
        }
        #expect(ReliabilityTests.leftovers(tmp).qemu.isEmpty)
        #expect(ReliabilityTests.leftovers(tmp).files.isEmpty)
    }

    @Test func aGuestThatDiesIsReplacedAndItsSlotRecordedAsFailed() async throws {
        let (dir, file, tmp) = try setUp(blocks: 4)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out"
        let (p, err) = try Self.start(["--matrix", file, "--output", out], tmp: tmp)
        let started = try await Self.waitFor(seconds: 90) { Self.lines(out + "/results.jsonl") >= 2 }
        #expect(started, "no slot finished within 90 s")
        for pid in QemuProcesses.running(commandLineContaining: tmp) { kill(pid, SIGKILL) }
        let ended = try await Self.waitFor(seconds: 120) { !p.isRunning }
        #expect(ended, "harness did not finish")
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0, "\(stderr)")

        let records = try ResultsLog.read(path: out + "/results.jsonl")
        let failed = records.filter { $0.status == .failed }
        #expect(failed.count == 1, "\(failed.map { $0.failure ?? "" })")
        #expect(failed.first?.failure?.contains("QEMU exited during slot") == true, "\(failed.map { $0.failure ?? "" })")
        #expect(records.contains { $0.slot?.guest == 2 }, "the remaining slots ran in a new guest")
        // Every cell has a successful slot in every block: the failed one was tried again.
        let ok = Set(records.filter { $0.status == .ok }.map { "\($0.cellID)#\($0.repetition)" })
        #expect(ok.count == 12)
        #expect(ReliabilityTests.leftovers(tmp).qemu.isEmpty)
    }

    @Test func ctrlCKeepsFinishedSlotsAndResumeContinuesAtTheFirstUnfinished() async throws {
        let (dir, file, tmp) = try setUp(blocks: 3)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out"
        let (p, err) = try Self.start(["--matrix", file, "--output", out], tmp: tmp)
        let started = try await Self.waitFor(seconds: 90) { Self.lines(out + "/results.jsonl") >= 4 }
        #expect(started, "no slot finished within 90 s")
        p.interrupt()
        let ended = try await Self.waitFor(seconds: 30) { !p.isRunning }
        #expect(ended)
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 130, "\(stderr)")
        #expect(stderr.contains("--resume \(out)"), "\(stderr)")
        let kept = try ResultsLog.read(path: out + "/results.jsonl")
        #expect(kept.count >= 4 && kept.count < 9)
        #expect(kept.allSatisfy { $0.status == .ok }, "an interrupted slot is not a measurement")
        _ = try await Self.waitFor(seconds: 5) { ReliabilityTests.leftovers(tmp).qemu.isEmpty }
        #expect(ReliabilityTests.leftovers(tmp).qemu.isEmpty)

        let resumed = try await bench(["--matrix", file, "--resume", out], tmpdir: tmp)
        #expect(exitCode(resumed) == 0, "\(resumed.stderr)")
        let all = try ResultsLog.read(path: out + "/results.jsonl")
        #expect(all.count == 9, "resume runs exactly the unfinished slots")
        #expect(Set(all.map { "\($0.cellID)#\($0.repetition)" }).count == 9)
        #expect(Array(all.prefix(kept.count)) == kept)
    }

    /// Fresh images change when written: every slot gets its own, and a
    /// batch of blocks gets its own guest.
    /// `bench calibrate` runs both drivers in one guest: fio slots
    /// (`drv=fio`) between native ones, each disk once per driver per
    /// block, and native/fio paired by block.
    @Test func calibratePairsBothDriversInOneGuest() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        let file = dir + "/records.jsonl"
        let run = try await bench(
            ["calibrate", "--runs", "2", "--ramp", "0s", "--runtime", "2s", "--seed", "3", "--records", file], tmpdir: dir + "/tmp")
        #expect(exitCode(run) == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.components(separatedBy: "paired by block, both drivers in the same guest, 2 pairs").count == 3, "\(run.stdout)")
        #expect(run.stdout.contains("cost of the shared guest"), "\(run.stdout)")
        let all = try ResultsLog.read(path: file)
        // As in freshCellsGetAnImagePerSlot: one slot that timed out and ran
        // again in a new guest is accepted; the measured slots are checked.
        let failed = all.filter { $0.status != .ok }
        let records = all.filter { $0.status == .ok }
        #expect(failed.count <= 1 && failed.allSatisfy { $0.failure?.contains("timed out") == true }, "\(all.map { $0.failure ?? "ok" })")
        #expect(records.count == 8, "\(all.map { $0.failure ?? "ok" })")
        #expect(Set(all.compactMap { $0.slot?.guest }).count == 1 + failed.count, "one guest, one more per timeout")
        let fio = records.filter { $0.cell.workload.driver == .fio }
        #expect(fio.count == 4 && fio.allSatisfy { $0.result?.driver == "fio" && ($0.result?.iops ?? 0) > 0 })
        // fio logs each whole second of a 2 s window; the last one only if
        // its sample comes before fio stops (one CI run had 1 in a slot).
        #expect(
            fio.allSatisfy { (1...2).contains($0.result?.perSecondOps.count ?? 0) },
            "fio's IOPS log gives the per-second counts: \(fio.map { $0.result?.perSecondOps ?? [] })")
        #expect(fio.allSatisfy { $0.slot?.submitCalls == nil }, "fio's submissions are not counted")
        #expect(records.allSatisfy { ($0.slot?.interrupts ?? 0) > 0 }, "both drivers' slots count the disk's interrupts")
        #expect(run.stdout.contains("interrupts/write"), "\(run.stdout)")
        #expect(fio.allSatisfy { ($0.slot?.host?.qemuVcpuMillis ?? 0) > 0 }, "the host samples fio's window too")
        for block in 1...2 {
            #expect(Set(records.filter { $0.repetition == block }.map(\.cellID)).count == 4, "block \(block) runs every disk with both drivers")
        }
        #expect(ReliabilityTests.leftovers(dir + "/tmp").qemu.isEmpty)
        #expect(ReliabilityTests.leftovers(dir + "/tmp").files.isEmpty)
    }

    /// `calibrate --records` writes each slot as it ends, not when the
    /// calibration is over: a guest or harness that fails later loses
    /// none of the finished slots.
    @Test func calibrateRecordsEachSlotAsItEnds() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tmp = dir + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let file = dir + "/records.jsonl"
        let (p, err) = try Self.start(
            ["calibrate", "--runs", "3", "--ramp", "0s", "--runtime", "2s", "--records", file], tmp: tmp)
        let written = try await Self.waitFor(seconds: 90) { Self.lines(file) >= 2 }
        let runningThen = p.isRunning
        p.interrupt()
        let ended = try await Self.waitFor(seconds: 30) { !p.isRunning }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(written && runningThen, "2 records on disk while 24 slots were still running: \(stderr)")
        #expect(ended && p.terminationStatus == 130, "\(stderr)")
        let records = try ResultsLog.read(path: file)
        #expect(records.count >= 2 && records.count < 24 && records.allSatisfy { $0.slot?.guest == 1 }, "\(records.count)")
        #expect(Set(records.map(\.sequence)).count == records.count, "each slot once, not again at the end")
        for _ in 0..<30 where !ReliabilityTests.leftovers(tmp).qemu.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        #expect(ReliabilityTests.leftovers(tmp).qemu.isEmpty)
        #expect(ReliabilityTests.leftovers(tmp).files.isEmpty)
    }

    @Test func freshCellsGetAnImagePerSlot() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        let file = dir + "/fresh.toml"
        try """
            name = "fresh"
            [workload]
            ramp = "1s"
            runtime = "1s"
            repeat = 5
            [image]
            disk_size = ["1G"]
            state = ["fresh"]
            [reference]
            null = true
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let out = dir + "/out"
        let run = try await bench(["--matrix", file, "--output", out], tmpdir: dir + "/tmp")
        #expect(exitCode(run) == 0, "\(run.stderr)")
        let all = try ResultsLog.read(path: out + "/results.jsonl")
        let story = "\(all.map { "\($0.cellID)#\($0.repetition) guest \($0.slot?.guest ?? 0): \($0.failure ?? "ok")" })\n\(run.stderr)"
        // A slot the guest does not answer in time is recorded, QEMU is
        // killed and the slot runs again in a new guest (issue 6). That has
        // happened on this test's runners (stops 20-26: a slot of a fresh
        // cell silent for 17 s, cause not found), so a retried slot is
        // accepted here as long as it is a timeout, it was retried, and at
        // most two happened; everything below is checked on the slots that
        // ran.
        let failed = all.filter { $0.status != .ok }
        let records = all.filter { $0.status == .ok }
        #expect(failed.count <= 2 && failed.allSatisfy { $0.failure?.contains("timed out") == true }, "\(story)")
        #expect(records.count == 10, "\(story)")
        for f in failed {
            #expect(records.contains { $0.cellID == f.cellID && $0.repetition == f.repetition }, "a timed-out slot ran again: \(story)")
        }
        let fresh = records.filter { $0.cell.state == .fresh }
        #expect(Set(fresh.compactMap { $0.slot.map { "\($0.guest)/\($0.disk)" } }).count == 5, "one image per slot")
        let null = records.filter { $0.cell.kind == .null }
        #expect(Set(null.compactMap { $0.slot?.disk }).count == 1, "the null disk is the same in every guest")
        // 4 blocks per guest, then a new guest; each timeout boots one more.
        let guests = Set(all.compactMap { $0.slot?.guest })
        #expect(failed.isEmpty ? guests == [1, 2] : guests.count == 2 + failed.count, "\(guests.sorted()): \(story)")
        #expect(ReliabilityTests.leftovers(dir + "/tmp").files.isEmpty)
    }
}
