import BenchSpec
import Foundation
import Logging
import Qcow2Geometry
import Testing

@testable import Orchestrator

extension Tag {
    /// Boots a real QEMU guest (seconds each, needs scripts/setup).
    @Tag static var guest: Self
}

/// Real guests, short runtimes: the chain image -> QEMU -> guest -> record.
@Suite(.tags(.guest), .serialized)
struct GuestBootTests {
    static func harness() async throws -> Harness {
        try await Harness.prepare(
            kernelDirectory: nil, accel: .auto, matrixName: "test", matrixHash: "-", seed: 1,
            logger: Logger(label: "test"))
    }

    @Test func preallocatedImageRunProducesAFullRecord() async throws {
        let h = try await Self.harness()
        let work = h.workDirectory.path
        let cell = Cell(
            geometry: ImageGeometry(diskSize: .gib(1)), cache: CacheConfig(l2CacheSize: .value(.kib(64))),
            workload: Workload(ramp: .seconds(1), runtime: .seconds(3)))
        let record = await h.runner.run(PlannedRun(cell: cell, repetition: 1), sequence: 0)
        h.shutdown()

        #expect(record.status == .ok, "\(record.failure ?? "")")
        let r = try #require(record.result)
        #expect(r.iops > 0)
        #expect(r.perSecondOps.count == 3)
        #expect(r.perSecondOps.allSatisfy { $0 > 0 })
        #expect(r.ioErrors == 0)
        #expect(r.deviceBytes == 1 << 30)
        #expect(["tcg", "kvm"].contains(record.provenance.accel))
        #expect(record.provenance.qemuCommandLine.contains("driver=qcow2,node-name=disk0,file=file0,l2-cache-size=65536"))
        #expect(record.provenance.qemuVersion != "unknown")
        #expect(record.effective?.l2EntrySize == .kib(4))
        #expect(!FileManager.default.fileExists(atPath: work), "work directory left behind")
        #expect(QemuProcesses.running(commandLineContaining: work).isEmpty, "qemu-system process left behind")
    }

    @Test func qemuRejectingAnOptionIsAFailedRecordNotAHang() async throws {
        let h = try await Self.harness()
        defer { h.shutdown() }
        // 1M of L2 with 512-byte entries on a 2M-cluster image: QEMU accepts the
        // entry size rule only up to the cluster size; give it an impossible
        // host AIO mode instead so QEMU itself refuses to start.
        let cell = Cell(
            kind: .raw, geometry: ImageGeometry(diskSize: .mib(64)), hostIO: HostIO(cache: "none", aio: "bogus"),
            workload: Workload(ramp: .seconds(0), runtime: .seconds(1)))
        let record = await h.runner.run(PlannedRun(cell: cell, repetition: 1), sequence: 0)
        #expect(record.status == .failed)
        #expect(record.failure?.contains("QEMU exited") == true, "\(record.failure ?? "")")
        #expect(record.stderrTail?.joined().contains("bogus") == true)
        #expect(record.wallSeconds < 30)
    }
}

/// A write / idle / write workload on a real guest: each phase measured,
/// the idle phase timed on the host, QEMU's memory sampled throughout.
@Suite(.tags(.guest))
struct PhaseGuestTests {
    @Test func idlePhaseIsMarkedAndEachWritePhaseMeasured() async throws {
        let h = try await GuestBootTests.harness()
        defer { h.shutdown() }
        let cell = Cell(
            geometry: ImageGeometry(diskSize: .gib(1)), cache: CacheConfig(cacheCleanInterval: .value(1)),
            workload: Workload(
                ramp: .seconds(0), runtime: .seconds(1), distribution: .zipf(thetaMillis: 1200),
                phases: [.write(millis: 2000), .idle(millis: 2000), .write(millis: 2000)]))
        let record = await h.runner.run(PlannedRun(cell: cell, repetition: 1), sequence: 0)
        #expect(record.status == .ok, "\(record.failure ?? "")")
        let r = try #require(record.result)
        let phases = try #require(r.phases)
        #expect(phases.map(\.phase) == cell.workload.phases)
        #expect(phases[0].ops > 0 && phases[2].ops > 0)
        #expect(phases[1].ops == 0 && phases[1].perSecondOps.isEmpty)
        #expect(r.ops == phases[0].ops + phases[2].ops)
        #expect(r.seconds == 4)
        #expect(r.perSecondOps.count == 4)
        let marks = try #require(record.phaseMarks)
        #expect(marks.map(\.label) == ["idle-start 1", "idle-end 1"])
        let idleMillis = marks[1].atMillis - marks[0].atMillis
        #expect(idleMillis > 1500 && idleMillis < 3500, "idle measured on the host: \(idleMillis) ms")
        let memory = try #require(record.memory)
        #expect(memory.samples.count > 10)
        #expect(memory.peakKiB > 10_000)
    }
}
