import BenchResults
import BenchSpec
import GuestWire
import Qcow2Geometry

@testable import Reporting

/// A synthetic, fixed record set shaped like a real session: a 16 GiB disk
/// with 64 KiB clusters (full L2 coverage takes 2 MiB), a null-co ceiling, a
/// raw reference, three qcow2 series, failures with awkward reasons.
/// Every value is a literal so the golden files never drift.
enum Fixture {
    static let disk = ByteSize.gib(16)

    static let provenance = Provenance(
        qemuVersion: "7.2.0", accel: "tcg", accelReason: "probe: KVM guest gave no output within 20s",
        guestKernel: "6.1.0-28-cloud-amd64", hostCPU: "Intel(R) Xeon(R) CPU @ 2.20GHz", hostKernel: "6.1.0-28-amd64",
        imageFilesystem: "ext4", gitRevision: "0123456789abcdef", matrixName: "synthetic",
        matrixHash: "sha256:feedface", seed: 42, startedAt: "2025-01-02T03:04:05Z",
        qemuCommandLine: [
            "qemu-system-x86_64", "-accel", "tcg", "-nographic", "-blockdev",
            "driver=qcow2,node-name=disk0,file.driver=file,file.filename=/tmp/run dir/disk.qcow2,l2-cache-size=1048576",
            "-append", "console=ttyS0 quiet panic=-1",
        ])

    static func qcow2(
        _ state: ImageState = .preallocated, l2: Setting<ByteSize>, entry: Setting<ByteSize> = .default
    ) -> Cell {
        Cell(
            kind: .qcow2, state: state, geometry: ImageGeometry(diskSize: disk, clusterSize: .kib(64)),
            cache: CacheConfig(l2CacheSize: l2, l2CacheEntrySize: entry))
    }

    static let null = Cell(kind: .null, geometry: ImageGeometry(diskSize: disk))
    static let raw = Cell(kind: .raw, geometry: ImageGeometry(diskSize: disk))

    static func result(_ iops: Double, p50: Double, p99: Double) -> GuestResult {
        GuestResult(
            driver: "native", ops: UInt64(iops * 10), seconds: 10, iops: iops, mibPerSecond: iops * 4096 / 1_048_576,
            latency: .init(meanUs: p50 * 1.1, p50Us: p50, p99Us: p99, p999Us: p99 * 1.5, maxUs: p99 * 3),
            perSecondOps: [UInt64(iops)], ioErrors: 0, firstError: nil, bootToFirstIOMillis: 2512,
            deviceBytes: disk.bytes, spec: WorkloadSpec())
    }

    /// One cell's runs: `nil` in `iops` is a failed repetition.
    struct Plan {
        let cell: Cell
        let iops: [Double?]
        var failure: String? = "QEMU exited with status 1"
    }

    static let plans: [Plan] = [
        Plan(cell: null, iops: [19010, 18875, 19220]),
        Plan(cell: raw, iops: [18420, 18610, 18390]),
        // Series 1: preallocated, entry size left to QEMU.
        Plan(cell: qcow2(l2: .value(.kib(128))), iops: [9540, 9710, 9605]),
        Plan(cell: qcow2(l2: .value(.kib(256))), iops: [12020, 11890, 12150]),
        Plan(
            cell: qcow2(l2: .value(.kib(512))), iops: [14480, 14630, nil],
            failure: "guest gave no result within 60s, last console line: \"Kernel panic - not syncing\""),
        Plan(cell: qcow2(l2: .value(.mib(1))), iops: [17640, 17510, 17720]),
        Plan(cell: qcow2(l2: .value(.mib(2))), iops: [18050, 18190, 17980]),
        Plan(cell: qcow2(l2: .default), iops: [18110, 17930, 18240]),
        // Series 2: preallocated, entry size pinned to the cluster size.
        Plan(cell: qcow2(l2: .value(.kib(256)), entry: .value(.kib(64))), iops: [8900, 9120, 8760]),
        Plan(cell: qcow2(l2: .value(.mib(1)), entry: .value(.kib(64))), iops: [16200, 16420, 16080]),
        Plan(cell: qcow2(l2: .value(.mib(2)), entry: .value(.kib(64))), iops: [18020, 18150, 18070]),
        // Series 3: fresh images; one cell never succeeded, one ran once.
        Plan(cell: qcow2(.fresh, l2: .value(.kib(128))), iops: [nil], failure: nil),
        Plan(cell: qcow2(.fresh, l2: .value(.kib(256))), iops: [7410]),
        Plan(cell: qcow2(.fresh, l2: .value(.mib(2))), iops: [11900, 12240]),
    ]

    /// The records, in a fixed interleaved run order (as a shuffled session
    /// would produce).
    static let records: [RunRecord] = {
        var out: [RunRecord] = []
        var seq = 0
        let maxReps = plans.map(\.iops.count).max() ?? 0
        for rep in 0..<maxReps {
            for (i, plan) in plans.enumerated() where rep < plan.iops.count {
                let cell = plan.cell
                var p = provenance
                p.startedAt = "2025-01-02T03:\(10 + rep * 10):\(10 + i)Z"
                if let iops = plan.iops[rep] {
                    out.append(
                        RunRecord(
                            cell: cell, repetition: rep + 1, sequence: seq, status: .ok,
                            result: result(iops, p50: 32e6 / iops * 0.95, p99: 32e6 / iops * 2.5),
                            provenance: p, prepSeconds: 0.25, wallSeconds: 14.5 + Double(i) / 8))
                } else {
                    out.append(
                        RunRecord(
                            cell: cell, repetition: rep + 1, sequence: seq, status: .failed, failure: plan.failure,
                            result: nil, provenance: p, prepSeconds: 0.25, wallSeconds: 60))
                }
                seq += 1
            }
        }
        return out
    }()

    static let set = ResultSet(records: records)

    static func cell(_ id: String) -> CellSummary? { set.cells.first { $0.cellID == id } }
}
