import BenchSpec
import Qcow2Geometry

/// How much host disk a matrix needs at its peak, so a matrix that cannot
/// fit is refused before anything starts rather than failing an hour in.
public struct DiskFootprint: Sendable {
    /// Upper bound of host bytes one run's images occupy.
    public var peakBytes: UInt64
    /// The cell that needs the most.
    public var peakCellID: String?

    /// Images are made per run and removed after it, so the peak is the
    /// largest single run. Written data is bounded by an optimistic
    /// `assumedIOPS` over ramp + runtime, each write at worst allocating a
    /// whole cluster.
    public init(cells: [Cell], assumedIOPS: Double = 200_000) {
        var peak: UInt64 = 0
        var who: String?
        for c in cells {
            let seconds = c.workload.ramp.seconds + c.workload.runtime.seconds
            let written = UInt64(assumedIOPS * seconds) * c.workload.blockSize.bytes
            let bytes = ImagePreparation.estimatedFootprint(c, writtenBytes: written)
            if bytes > peak {
                peak = bytes
                who = c.id
            }
        }
        peakBytes = peak
        peakCellID = who
    }
}
