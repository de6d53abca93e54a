import BenchSpec
import Qcow2Geometry

/// `qemu-img create` for one cell's disk.
public struct QemuImgCreate: ModeledCommand, Hashable {
    public var qemuImg: String
    public var path: String
    public var kind: DiskKind
    public var state: ImageState
    public var geometry: ImageGeometry
    /// A qcow2 backing file (overlay images).
    public var backingFile: String?

    public init(
        qemuImg: String = "qemu-img", path: String, kind: DiskKind, state: ImageState, geometry: ImageGeometry,
        backingFile: String? = nil
    ) {
        self.qemuImg = qemuImg
        self.path = path
        self.kind = kind
        self.state = state
        self.geometry = geometry
        self.backingFile = backingFile
    }

    public var argv: [String] {
        switch kind {
        case .raw:
            // Sparse: the raw reference measures the host path, and a fully
            // allocated 16 GiB file would cost minutes to write.
            return [qemuImg, "create", "-q", "-f", "raw", path, "\(geometry.diskSize.bytes)"]
        case .qcow2, .null:
            var opts = ["cluster_size=\(geometry.clusterSize.bytes)", "refcount_bits=\(geometry.refcountBits)"]
            if geometry.extendedL2 { opts.append("extended_l2=on") }
            switch state {
            case .preallocated: opts.append("preallocation=metadata")
            case .allocated: opts.append("preallocation=full")
            // Every cluster allocated: the filled image a snapshot or backing file starts from.
            case .snapshot, .overlay: opts.append("preallocation=falloc")
            case .fresh: break
            }
            var argv = [qemuImg, "create", "-q", "-f", "qcow2", "-o", opts.joined(separator: ",")]
            if let backingFile { argv += ["-b", backingFile, "-F", "qcow2"] }
            return argv + [path, "\(geometry.diskSize.bytes)"]
        }
    }
}
