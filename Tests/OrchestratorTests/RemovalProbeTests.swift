import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Qcow2Geometry
import Testing

@testable import Orchestrator

/// The removal probe measures this host's file system for real: it must
/// give a positive figure where images live, and leave nothing behind.
@Suite struct RemovalProbeTests {
    @Test func measuresAPositiveCostPerExtentAndLeavesNoFile() throws {
        let dir = "/var/tmp/removal-probe-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let perWrite = try #require(RemovalProbe.secondsPerExtent(directory: dir, writes: 512))
        #expect(perWrite > 0 && perWrite < 0.01)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func aMissingDirectoryGivesNoFigure() {
        #expect(RemovalProbe.secondsPerExtent(directory: "/var/tmp/no-such-dir-\(UUID().uuidString)", writes: 8) == nil)
    }
}

/// The budget's removal projection counts extents, not writes: a dense
/// image frees far fewer extents than it took writes.
@Suite struct ImageRemovalExtentTests {
    @Test func aSparseFileHasAnExtentPerWriteAndADenseOneFarFewer() {
        let blocks = 4_194_304.0  // 16 GiB in 4 KiB blocks
        #expect(abs(ImageRemoval.expectedExtents(writes: 1000, blocks: blocks) - 1000) < 1)
        // As many writes as blocks: 63.2% touched, in 23.3% of the blocks' runs.
        let dense = ImageRemoval.expectedExtents(writes: blocks, blocks: blocks)
        #expect(abs(dense / blocks - (1 - exp(-1)) * exp(-1)) < 1e-9)
        #expect(ImageRemoval.expectedExtents(writes: 0, blocks: blocks) == 0)
        #expect(ImageRemoval.expectedExtents(writes: 20 * blocks, blocks: blocks) < 1)
    }

    static func slot(_ cell: Cell, sequence: Int, ops: UInt64) -> RunRecord {
        let spec = cell.workload.guestSpec(diskSize: cell.geometry.diskSize, seed: 1)
        let result = GuestResult(
            driver: "native", ops: ops, seconds: 4, iops: Double(ops) / 4, mibPerSecond: 0,
            latency: .init(meanUs: 1, p50Us: 1, p99Us: 1, p999Us: 1, maxUs: 1), perSecondOps: [], ioErrors: 0,
            firstError: nil, bootToFirstIOMillis: 0, deviceBytes: cell.geometry.diskSize.bytes, spec: spec)
        var r = RunRecord(
            cell: cell, repetition: sequence, sequence: sequence, status: .ok, result: result,
            provenance: Provenance(
                qemuVersion: "7.2.0", accel: "tcg", accelReason: "test", guestKernel: "k", hostCPU: "c", hostKernel: "h",
                imageFilesystem: "ext4", gitRevision: "0", matrixName: "t", matrixHash: "0", seed: 1, startedAt: "2026-12-03T00:00:00Z",
                qemuCommandLine: []),
            prepSeconds: 0, wallSeconds: 4)
        r.slot = SlotInfo(guest: 1, group: 1, block: sequence, position: 0, disk: "d0", warmupMillis: 0, settled: true)
        return r
    }

    @Test func slotsOfOneKeptImageShareItsExtentsAndPerSlotImagesDoNot() {
        let geometry = ImageGeometry(diskSize: .gib(16), clusterSize: .kib(64))
        let kept = Cell(kind: .qcow2, state: .preallocated, geometry: geometry)
        let fresh = Cell(kind: .qcow2, state: .fresh, geometry: geometry)
        let null = Cell(kind: .null, geometry: geometry)
        let blocks = 4_194_304.0
        let ops: UInt64 = 2_000_000
        let keptSlots = (1...3).map { Self.slot(kept, sequence: $0, ops: ops) }
        let freshSlots = (4...6).map { Self.slot(fresh, sequence: $0, ops: ops) }
        let expectedKept = ImageRemoval.expectedExtents(writes: 3 * Double(ops), blocks: blocks)
        let expectedFresh = 3 * ImageRemoval.expectedExtents(writes: Double(ops), blocks: blocks)
        let all = keptSlots + freshSlots + [Self.slot(null, sequence: 7, ops: ops)]
        #expect(abs(ImageRemoval.extents(in: all) - (expectedKept + expectedFresh)) < 1)
        #expect(ImageRemoval.writes(in: all) == 6 * Double(ops))
        // Projected one block further: the kept image's writes scaled, then counted.
        #expect(
            abs(ImageRemoval.extents(in: keptSlots, scale: 4.0 / 3) - ImageRemoval.expectedExtents(writes: 4 * Double(ops), blocks: blocks)) < 1)
    }
}
