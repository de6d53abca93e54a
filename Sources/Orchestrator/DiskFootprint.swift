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
    /// The cell whose prepared images are largest.
    public var preparedPeak: Cell?

    public init(cells: [Cell], assumedIOPS: Double = 100_000) {
        var prepared: UInt64 = 0
        var worst: UInt64 = 0
        var who: String?
        var preparedCell: Cell?
        for c in cells {
            let seconds = Double(c.workload.ramp.milliseconds + c.workload.measuredMillis) / 1000
            let written = UInt64(assumedIOPS * seconds) * c.workload.blockSize.bytes
            let made = ImagePreparation.estimatedFootprint(c, writtenBytes: 0)
            if made > prepared || preparedCell == nil {
                prepared = max(prepared, made)
                preparedCell = c
            }
            let bytes = ImagePreparation.estimatedFootprint(c, writtenBytes: written)
            if bytes > worst {
                worst = bytes
                who = c.id
            }
        }
        preparedBytes = prepared
        worstCaseBytes = worst
        peakCellID = who
        preparedPeak = preparedCell
    }

    /// Refuses, before anything is prepared, images that cannot fit in the
    /// free space of the work directory's file system: the one-line message
    /// naming the disk size option or key (`diskField`) and both numbers;
    /// nil when they fit or the free space is unknown. Every command that
    /// prepares images calls this.
    public func refusal(diskField: String, free: UInt64?, at directory: String) -> String? {
        guard let free, preparedBytes > free, let cell = preparedPeak else { return nil }
        return "\(diskField): invalid value \"\(cell.geometry.diskSize)\": the images need \(ByteSize(preparedBytes).humanReadable) "
            + "(\(cell.kind == .qcow2 ? "qcow2 metadata of \(cell.state?.rawValue ?? "preallocated") images" : "\(cell.kind.rawValue) image")) "
            + "under \(directory), but only \(ByteSize(free).humanReadable) is free there; set TMPDIR to a larger file system or use a smaller disk"
    }

    /// `refusal` for the usual work directory, whose free space it measures.
    public static func refusal(cells: [Cell], diskField: String) -> String? {
        let parent = WorkDirectory.defaultParent
        return DiskFootprint(cells: cells).refusal(diskField: diskField, free: WorkDirectory.availableBytes(at: parent), at: parent)
    }
}
