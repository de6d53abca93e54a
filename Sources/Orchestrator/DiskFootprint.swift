import BenchSpec
import Qcow2Geometry

/// How much host disk a matrix needs at its peak, so a matrix that cannot
/// fit is refused before anything starts rather than failing an hour in.
///
/// Images are made per run and removed after it, so the peak is the
/// largest single run. Two figures: the prepared images alone (certain:
/// a matrix whose images cannot be made is refused), and a worst case
/// adding what the guest could write, each write allocating a whole cluster
/// at an optimistic `assumedIOPS` (a warning: real runs stay far below).
public struct DiskFootprint: Sendable {
    public var preparedBytes: UInt64
    public var worstCaseBytes: UInt64
    /// The cell with the largest worst case.
    public var peakCellID: String?

    public init(cells: [Cell], assumedIOPS: Double = 100_000) {
        var prepared: UInt64 = 0
        var worst: UInt64 = 0
        var who: String?
        for c in cells {
            let seconds = Double(c.workload.ramp.milliseconds + c.workload.measuredMillis) / 1000
            let written = UInt64(assumedIOPS * seconds) * c.workload.blockSize.bytes
            prepared = max(prepared, ImagePreparation.estimatedFootprint(c, writtenBytes: 0))
            let bytes = ImagePreparation.estimatedFootprint(c, writtenBytes: written)
            if bytes > worst {
                worst = bytes
                who = c.id
            }
        }
        preparedBytes = prepared
        worstCaseBytes = worst
        peakCellID = who
    }
}
