import BenchResults
import BenchSpec
import GuestWire
import Qcow2Geometry

@testable import Reporting

/// Synthetic result sets for comparisons: every run of a cell is given by
/// its IOPS (and, when it matters, its p99 latency), nothing else varies.
enum Runs {
    static let l2Sizes: [ByteSize] = [.kib(256), .mib(1), .mib(2)]

    static func cell(_ l2: ByteSize) -> Cell { Fixture.qcow2(l2: .value(l2)) }

    /// One plan per cell: IOPS per run, optional p99 per run (default: the
    /// latency a closed loop at queue depth 32 would see, 32e6 / IOPS µs,
    /// so it moves with IOPS).
    struct Plan {
        var cell: Cell
        var iops: [Double]
        var p99: [Double]? = nil
    }

    /// Records for `plans`, runs interleaved across cells as a session would
    /// run them, with `provenance` (edited by `adjust` if given).
    static func records(_ plans: [Plan], adjust: (inout Provenance) -> Void = { _ in }) -> [RunRecord] {
        var p = Fixture.provenance
        adjust(&p)
        var out: [RunRecord] = []
        let maxRuns = plans.map(\.iops.count).max() ?? 0
        for rep in 0..<maxRuns {
            for plan in plans where rep < plan.iops.count {
                let iops = plan.iops[rep]
                let p99 = plan.p99?[rep] ?? 32e6 / iops
                out.append(
                    RunRecord(
                        cell: plan.cell, repetition: rep + 1, sequence: out.count, status: .ok,
                        result: Fixture.result(iops, p50: p99 / 2.5, p99: p99), provenance: p, prepSeconds: 0.2,
                        wallSeconds: 14))
            }
        }
        return out
    }

    static func set(_ plans: [Plan], adjust: (inout Provenance) -> Void = { _ in }) -> ResultSet {
        ResultSet(records: records(plans, adjust: adjust))
    }

    /// Baseline of one cell: five tight runs around 18,070 IOPS (sd ~0.4%).
    static let tight: [Double] = [18050, 18190, 17980, 18110, 18020]

    /// `values` scaled by `factor`.
    static func scaled(_ values: [Double], _ factor: Double) -> [Double] { values.map { $0 * factor } }
}
