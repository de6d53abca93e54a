import BenchSpec
import Qcow2Geometry

/// `qemu-img snapshot -c` on an image.
public struct QemuImgSnapshot: ModeledCommand, Hashable {
    public var qemuImg = "qemu-img"
    public var path: String
    public var name: String

    public var argv: [String] { [qemuImg, "snapshot", "-c", name, path] }
}

/// How one cell's disk is made before the run: the commands, in order, and
/// the files they leave (all removed after the run).
///
/// Every run starts from a freshly made image, so no run inherits another's
/// allocations. "Filled" images use `preallocation=falloc`: every qcow2
/// cluster and host extent is allocated, without writing the data (16 GiB
/// takes well under a second instead of minutes); copy-on-write then reads
/// unwritten host extents, which cost no device I/O.
public struct ImagePreparation: Hashable, Sendable {
    /// The image the guest writes to.
    public var image: String
    /// A backing image (overlay state only).
    public var backing: String?
    public var commands: [ImageCommand]

    public enum ImageCommand: Hashable, Sendable {
        case create(QemuImgCreate)
        case snapshot(QemuImgSnapshot)

        public var argv: [String] {
            switch self {
            case .create(let c): c.argv
            case .snapshot(let s): s.argv
            }
        }
    }

    /// Files created, for cleanup.
    public var files: [String] { [image] + (backing.map { [$0] } ?? []) }

    /// - Parameters:
    ///   - base: path without extension, e.g. `WORK/disk-3`.
    ///   - qemuImg: the cell's build's `qemu-img`.
    public init(cell: Cell, base: String, qemuImg: String = "qemu-img") {
        let g = cell.geometry
        switch cell.kind {
        case .null:
            image = base
            backing = nil
            commands = []
        case .raw:
            image = base + ".raw"
            backing = nil
            commands = [.create(QemuImgCreate(path: image, kind: .raw, state: .fresh, geometry: g))]
        case .qcow2:
            image = base + ".qcow2"
            switch cell.state ?? .preallocated {
            case .preallocated, .allocated, .fresh:
                backing = nil
                commands = [.create(QemuImgCreate(qemuImg: qemuImg, path: image, kind: .qcow2, state: cell.state ?? .preallocated, geometry: g))]
            case .snapshot:
                backing = nil
                commands = [
                    .create(QemuImgCreate(qemuImg: qemuImg, path: image, kind: .qcow2, state: .snapshot, geometry: g)),
                    .snapshot(QemuImgSnapshot(qemuImg: qemuImg, path: image, name: "qcb-base")),
                ]
            case .overlay:
                let b = base + "-backing.qcow2"
                backing = b
                commands = [
                    .create(QemuImgCreate(qemuImg: qemuImg, path: b, kind: .qcow2, state: .snapshot, geometry: g)),
                    .create(QemuImgCreate(qemuImg: qemuImg, path: image, kind: .qcow2, state: .fresh, geometry: g, backingFile: b)),
                ]
            }
        }
    }

    /// Host bytes the prepared image(s) occupy before the guest writes, plus
    /// what the run can add (`written` bytes, each landing in a new cluster
    /// at worst). An estimate for refusing matrices that cannot fit.
    public static func estimatedFootprint(_ cell: Cell, writtenBytes: UInt64) -> UInt64 {
        let g = cell.geometry
        let metadata = g.fullCoverageL2Bytes.bytes * 2 + g.clusterSize.bytes * 16
        let newClusters = min(g.diskSize.bytes, writtenBytes / max(1, cell.workload.blockSize.bytes) * g.clusterSize.bytes)
        switch cell.kind {
        case .null: return 0
        case .raw: return min(g.diskSize.bytes, writtenBytes)
        case .qcow2:
            switch cell.state ?? .preallocated {
            case .preallocated: return metadata + min(g.diskSize.bytes, writtenBytes)
            case .allocated: return metadata + g.diskSize.bytes
            case .fresh: return metadata + newClusters
            case .snapshot: return g.diskSize.bytes + metadata + newClusters
            case .overlay: return g.diskSize.bytes + 2 * metadata + newClusters
            }
        }
    }
}
