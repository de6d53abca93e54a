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
            kernelDirectory: nil, accel: "auto", matrixName: "test", matrixHash: "-", seed: 1,
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
