/// The shape of a qcow2 image that decides how much metadata a cache must hold.
public struct ImageGeometry: Hashable, Sendable, Codable {
    public var diskSize: ByteSize
    public var clusterSize: ByteSize
    /// Width of one refcount entry in bits (qcow2 default 16).
    public var refcountBits: Int
    /// `extended_l2=on` doubles the L2 entry to 16 bytes.
    public var extendedL2: Bool

    public static let minClusterSize = ByteSize(512)
    public static let maxClusterSize = ByteSize.mib(2)

    public init(diskSize: ByteSize, clusterSize: ByteSize = .kib(64), refcountBits: Int = 16, extendedL2: Bool = false) {
        self.diskSize = diskSize
        self.clusterSize = clusterSize
        self.refcountBits = refcountBits
        self.extendedL2 = extendedL2
    }

    /// Bytes per L2 entry (8, or 16 with extended L2).
    public var l2EntryBytes: UInt64 { extendedL2 ? 16 : 8 }

    /// Number of data clusters the virtual disk spans.
    public var clusters: UInt64 { (diskSize.bytes + clusterSize.bytes - 1) / clusterSize.bytes }

    /// L2 metadata for the whole disk, rounded up to whole clusters as QEMU
    /// does (`read_cache_sizes`): the L2 cache size that gives full coverage.
    public var fullCoverageL2Bytes: ByteSize {
        let raw = clusters * l2EntryBytes
        let c = clusterSize.bytes
        return ByteSize((raw + c - 1) / c * c)
    }

    /// Disk bytes mapped by an L2 cache of `l2CacheBytes`
    /// (`l2_cache_size * cluster_size / 8`), not capped at the disk size.
    public func l2Coverage(_ l2CacheBytes: ByteSize) -> UInt64 {
        multiplyClamped(l2CacheBytes.bytes / l2EntryBytes, clusterSize.bytes)
    }

    /// Disk bytes whose refcounts fit in a refcount cache of `bytes`
    /// (`refcount_cache_size * cluster_size * 8 / refcount_bits`).
    public func refcountCoverage(_ bytes: ByteSize) -> UInt64 {
        multiplyClamped(bytes.bytes * 8 / UInt64(refcountBits), clusterSize.bytes)
    }

    /// Coverage as a percentage of the disk, capped at 100.
    public func percentOfDisk(_ covered: UInt64) -> Double {
        min(100, Double(covered) / Double(diskSize.bytes) * 100)
    }

    /// Smallest disk: the guest needs room for random offsets, and qcow2
    /// metadata dominates below this.
    public static let minDiskSize = ByteSize.mib(1)

    /// Disk sizes: at least `minDiskSize` and whole 512-byte sectors.
    public static func validateDiskSize(_ size: ByteSize, field: String) throws(InvalidValue) {
        if size < minDiskSize || size.bytes % 512 != 0 {
            throw InvalidValue(field: field, value: size.description, rule: "must be at least 1M and a multiple of 512 bytes")
        }
    }

    /// Checks the cluster size and refcount width against qcow2's limits.
    public func validate(clusterField: String = "cluster_size", refcountField: String = "refcount_bits") throws(InvalidValue) {
        if !clusterSize.isPowerOfTwo || clusterSize < Self.minClusterSize || clusterSize > Self.maxClusterSize {
            throw InvalidValue(field: clusterField, value: clusterSize.description, rule: "qcow2 cluster sizes are powers of two from 512 to 2M")
        }
        if ![1, 2, 4, 8, 16, 32, 64].contains(refcountBits) {
            throw InvalidValue(field: refcountField, value: "\(refcountBits)", rule: "refcount_bits must be a power of two from 1 to 64")
        }
    }
}

func multiplyClamped(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (r, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? .max : r
}
