import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Orchestrator
import Qcow2Geometry

/// Results directories written by the tests, so the result-processing
/// commands (compare, merge, baseline, report) run through the real binary
/// without booting a guest.
enum SyntheticResults {
    static func provenance(matrixHash: String = "00000000feedface", qemuVersion: String = "7.2.0") -> Provenance {
        Provenance(
            qemuVersion: qemuVersion, accel: "tcg", accelReason: "requested", guestKernel: "6.1.0-28-cloud-amd64",
            hostCPU: "Test CPU", hostKernel: "6.1.0-28-amd64", imageFilesystem: "ext4", gitRevision: "0123456789ab",
            matrixName: "synthetic", matrixHash: matrixHash, seed: 1, startedAt: "2025-01-02T03:04:05Z",
            qemuCommandLine: ["qemu-system-x86_64", "-accel", "tcg"])
    }

    static func qcow2(_ l2: ByteSize) -> Cell {
        Cell(geometry: ImageGeometry(diskSize: .gib(16), clusterSize: .kib(64)), cache: CacheConfig(l2CacheSize: .value(l2)))
    }

    static let null = Cell(kind: .null, geometry: ImageGeometry(diskSize: .gib(16)))

    /// Records of `cells`, `iops[i]` being cell i's runs; p99 follows IOPS.
    static func records(_ cells: [(Cell, [Double])], provenance: Provenance = provenance()) -> [RunRecord] {
        var out: [RunRecord] = []
        let maxRuns = cells.map(\.1.count).max() ?? 0
        for rep in 0..<maxRuns {
            for (cell, runs) in cells where rep < runs.count {
                let iops = runs[rep]
                let p99 = 32e6 / iops
                let result = GuestResult(
                    driver: "native", ops: UInt64(iops * 10), seconds: 10, iops: iops, mibPerSecond: iops / 256,
                    latency: .init(meanUs: p99 / 2, p50Us: p99 / 2.5, p99Us: p99, p999Us: p99 * 1.5, maxUs: p99 * 3),
                    perSecondOps: [UInt64(iops)], ioErrors: 0, firstError: nil, bootToFirstIOMillis: 2500,
                    deviceBytes: cell.geometry.diskSize.bytes, spec: WorkloadSpec())
                out.append(
                    RunRecord(
                        cell: cell, repetition: rep + 1, sequence: out.count, status: .ok, result: result,
                        provenance: provenance, prepSeconds: 0.1, wallSeconds: 14))
            }
        }
        return out
    }

    /// Writes `records` as `dir/results.jsonl` (creating `dir`).
    static func write(_ records: [RunRecord], to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ResultsLog.lines(records).write(to: URL(fileURLWithPath: dir + "/results.jsonl"))
    }

    static let tight: [Double] = [18050, 18190, 17980, 18110, 18020]
    static let tightLower: [Double] = [16250, 16370, 16180, 16300, 16220]
}

/// Every file and directory under `dir` (directories as `path/`, with no
/// bytes), to check that a refused command made nothing.
func snapshotOfTree(_ dir: String) throws -> [String: Data] {
    var out: [String: Data] = [:]
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: dir) else { return out }
    for case let path as String in e {
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir + "/" + path, isDirectory: &isDir) else { continue }
        if isDir.boolValue {
            out[path + "/"] = Data()
        } else {
            out[path] = fm.contents(atPath: dir + "/" + path)
        }
    }
    return out
}
