import GuestWire
import Qcow2Geometry

/// Where a setting came from, so one set of rules can name it the way the
/// user wrote it: `--block-size` on the command line, `workload.block_size`
/// in a matrix file.
public enum FieldSpelling: Sendable {
    case commandLine
    case matrix

    /// `section` is the matrix table (`workload`, `image`, `cache`); `key` the
    /// snake_case key in it.
    public func name(_ section: String, _ key: String) -> String {
        switch self {
        case .commandLine: "--" + String(key.map { $0 == "_" ? "-" : $0 })
        case .matrix: "\(section).\(key)"
        }
    }

    /// The prefix `QemuCacheModel.validate` takes.
    var cachePrefix: String { self == .commandLine ? "--" : "cache." }
}

extension Workload {
    /// Rules of the workload alone (no disk). Block sizes are whole sectors
    /// because the guest uses O_DIRECT.
    public func validate(spelling: FieldSpelling = .commandLine) throws(InvalidValue) {
        if blockSize.bytes % 512 != 0 || blockSize.bytes > 16 << 20 {
            throw InvalidValue(
                field: spelling.name("workload", "block_size"), value: blockSize.description,
                rule: "must be a multiple of 512 bytes, at most 16M (O_DIRECT)")
        }
        if !WorkloadSpec.iodepthRange.contains(UInt32(clamping: iodepth)) {
            throw InvalidValue(
                field: spelling.name("workload", "iodepth"), value: "\(iodepth)",
                rule: "must be from \(WorkloadSpec.iodepthRange.lowerBound) to \(WorkloadSpec.iodepthRange.upperBound)")
        }
        if driver == .fio, !phases.isEmpty {
            throw InvalidValue(
                field: spelling.name("workload", "phases"), value: phases.map(\.description).joined(separator: ", "),
                rule: "phases are run by the native driver only; fio runs one write phase (use driver native)")
        }
    }

    /// Rules that depend on the disk: every write must land on a distinct
    /// block inside the span, or the run measures something else (a 50-byte
    /// span would put every write at offset 0 and report it as random I/O).
    /// A percentage span is rounded down to whole blocks, as the guest does.
    public func validate(diskSize: ByteSize, spelling: FieldSpelling = .commandLine) throws(InvalidValue) {
        if blockSize > diskSize {
            throw InvalidValue(
                field: spelling.name("workload", "block_size"), value: blockSize.description,
                rule: "is larger than the disk (\(diskSize)); must be at most the disk size")
        }
        let covered = span.bytes(of: diskSize)
        if covered < blockSize.bytes {
            throw InvalidValue(
                field: spelling.name("workload", "span"), value: span.description,
                rule: "must cover at least one block (\(blockSize)) of the disk; on \(diskSize) it covers \(covered) bytes")
        }
        if case .bytes(let b) = span, b.bytes % blockSize.bytes != 0 {
            throw InvalidValue(
                field: spelling.name("workload", "span"), value: span.description,
                rule: "must be a whole number of blocks (a multiple of \(blockSize)), or a percentage")
        }
    }
}

extension Cell {
    /// Every rule one cell must meet before anything is prepared or booted;
    /// `bench run`, `bench calibrate` and matrix files all call this, so a
    /// value one of them refuses the others refuse too.
    public func validate(spelling: FieldSpelling = .commandLine) throws(InvalidValue) {
        try ImageGeometry.validateDiskSize(geometry.diskSize, field: spelling.name("image", "disk_size"))
        if kind == .qcow2 {
            try geometry.validate(
                clusterField: spelling.name("image", "cluster_size"), refcountField: spelling.name("image", "refcount_bits"))
        }
        try workload.validate(spelling: spelling)
        try workload.validate(diskSize: geometry.diskSize, spelling: spelling)
        if kind != .qcow2, !cache.isAllDefault {
            let names = cache.blockdevOptions.map(\.key).joined(separator: ", ")
            throw InvalidValue(
                field: spelling == .commandLine ? "--disk" : "reference", value: kind.rawValue,
                rule: "qcow2 cache options (\(names)) apply only to --disk qcow2")
        }
        if kind == .qcow2 {
            try QemuCacheModel.validate(cache, geometry: geometry, fieldPrefix: spelling.cachePrefix)
        }
    }
}
