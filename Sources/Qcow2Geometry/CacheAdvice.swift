/// The smallest qcow2 cache settings that map a whole image, as QEMU (>= 4.0,
/// Linux) would apply them, spelled the three ways an operator can pass them.
/// Everything is derived from `ImageGeometry` and `QemuCacheModel`, so the
/// advice and the harness's own model of QEMU cannot drift apart.
public struct CacheAdvice: Hashable, Sendable, Codable {
    public var geometry: ImageGeometry
    /// L2 table bytes the whole image needs: `ROUND_UP(clusters * entry, cluster)`.
    public var l2Need: ByteSize
    /// The `l2-cache-size` to pass: the need, but at least QEMU's 2 entries,
    /// so the harness's own validation accepts it.
    public var l2CacheSize: ByteSize
    /// The refcount cache QEMU keeps when it is not set (4 clusters).
    public var refcountCacheSize: ByteSize
    /// libvirt's `<metadata_cache><max_size>` (QEMU's combined `cache-size`):
    /// the smallest that QEMU splits into full L2 coverage plus the refcount minimum.
    public var cacheSize: ByteSize
    /// Memory QEMU allocates for one VM with the advice (L2 plus refcount).
    public var memoryPerVM: ByteSize
    /// What QEMU does with no option: L2 up to 32 MiB, which may not cover the image.
    public var defaultL2CacheBytes: ByteSize
    public var defaultCoveragePercent: Double
    public var vms: Int
    public var totalMemory: ByteSize
    public var budget: BudgetCoverage?

    public static let minExtendedL2Cluster = ByteSize.kib(16)

    /// Largest virtual size QEMU creates: an L1 table of at most 32 MiB
    /// (`QCOW_MAX_L1_SIZE`), each entry one L2 table of one cluster.
    public static func maxDiskSize(_ geometry: ImageGeometry) -> ByteSize {
        let l1Entries: UInt64 = (32 << 20) / 8
        let perTable = geometry.clusterSize.bytes / geometry.l2EntryBytes
        return ByteSize(multiplyClamped(multiplyClamped(l1Entries, perTable), geometry.clusterSize.bytes))
    }

    /// `-blockdev` / `-drive` qcow2 option.
    public var blockdevOption: String { "l2-cache-size=\(l2CacheSize.bytes)" }

    /// libvirt >= 7.0: the combined size, which QEMU splits itself.
    public var libvirtMetadataCacheXML: String {
        "<driver name='qemu' type='qcow2'><metadata_cache><max_size unit='bytes'>\(cacheSize.bytes)</max_size></metadata_cache></driver>"
    }

    /// The per-cache form of the 2017 libvirt patch (never merged upstream;
    /// shown because it names the two caches separately).
    public var libvirtPerCacheXML: String {
        "<driver name='qemu' type='qcow2'><qcow2 l2_cache_size='\(l2CacheSize.bytes)' refcount_cache_size='\(refcountCacheSize.bytes)'/></driver>"
    }

    enum CodingKeys: String, CodingKey {
        case geometry, l2Need, l2CacheSize, refcountCacheSize, cacheSize, memoryPerVM
        case defaultL2CacheBytes, defaultCoveragePercent, vms, totalMemory, budget
        case blockdevOption, libvirtMetadataCacheXML, libvirtPerCacheXML
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        geometry = try c.decode(ImageGeometry.self, forKey: .geometry)
        l2Need = try c.decode(ByteSize.self, forKey: .l2Need)
        l2CacheSize = try c.decode(ByteSize.self, forKey: .l2CacheSize)
        refcountCacheSize = try c.decode(ByteSize.self, forKey: .refcountCacheSize)
        cacheSize = try c.decode(ByteSize.self, forKey: .cacheSize)
        memoryPerVM = try c.decode(ByteSize.self, forKey: .memoryPerVM)
        defaultL2CacheBytes = try c.decode(ByteSize.self, forKey: .defaultL2CacheBytes)
        defaultCoveragePercent = try c.decode(Double.self, forKey: .defaultCoveragePercent)
        vms = try c.decode(Int.self, forKey: .vms)
        totalMemory = try c.decode(ByteSize.self, forKey: .totalMemory)
        budget = try c.decodeIfPresent(BudgetCoverage.self, forKey: .budget)
    }

    /// The derived option strings are written too, so `--json` users need
    /// not rebuild them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(geometry, forKey: .geometry)
        try c.encode(l2Need, forKey: .l2Need)
        try c.encode(l2CacheSize, forKey: .l2CacheSize)
        try c.encode(refcountCacheSize, forKey: .refcountCacheSize)
        try c.encode(cacheSize, forKey: .cacheSize)
        try c.encode(memoryPerVM, forKey: .memoryPerVM)
        try c.encode(defaultL2CacheBytes, forKey: .defaultL2CacheBytes)
        try c.encode(defaultCoveragePercent, forKey: .defaultCoveragePercent)
        try c.encode(vms, forKey: .vms)
        try c.encode(totalMemory, forKey: .totalMemory)
        try c.encodeIfPresent(budget, forKey: .budget)
        try c.encode(blockdevOption, forKey: .blockdevOption)
        try c.encode(libvirtMetadataCacheXML, forKey: .libvirtMetadataCacheXML)
        try c.encode(libvirtPerCacheXML, forKey: .libvirtPerCacheXML)
    }

    /// Advice for `vms` VMs with images of `geometry`; with `memoryBudget`
    /// (the total for all VMs), also the coverage each VM's share buys.
    /// Field names in errors are the CLI's options.
    public init(geometry: ImageGeometry, vms: Int = 1, memoryBudget: ByteSize? = nil) throws(InvalidValue) {
        try geometry.validate(clusterField: "--cluster-size")
        if geometry.extendedL2, geometry.clusterSize < Self.minExtendedL2Cluster {
            throw InvalidValue(
                field: "--cluster-size", value: geometry.clusterSize.description,
                rule: "--extended-l2 needs clusters of at least \(Self.minExtendedL2Cluster), as qcow2 requires")
        }
        let maxDisk = Self.maxDiskSize(geometry)
        if geometry.diskSize > maxDisk {
            throw InvalidValue(
                field: "--disk-size", value: geometry.diskSize.description,
                rule:
                    "a qcow2 image with \(geometry.clusterSize) clusters\(geometry.extendedL2 ? " and extended L2" : "") maps at most \(maxDisk) (QEMU's 32 MiB L1 table limit); use larger clusters"
            )
        }
        guard vms >= 1, vms <= 1_000_000 else {
            throw InvalidValue(field: "--vms", value: "\(vms)", rule: "must be a whole number from 1 to 1000000")
        }
        self.geometry = geometry
        self.vms = vms
        let cluster = geometry.clusterSize.bytes
        l2Need = geometry.fullCoverageL2Bytes
        l2CacheSize = ByteSize(max(l2Need.bytes, QemuCacheModel.minL2Entries * cluster))
        let advised = QemuCacheModel.effective(CacheConfig(l2CacheSize: .value(l2CacheSize)), geometry: geometry)
        refcountCacheSize = advised.refcountCacheBytes
        cacheSize = ByteSize(l2Need.bytes + QemuCacheModel.minRefcountClusters * cluster)
        memoryPerVM = ByteSize(advised.l2CacheBytes.bytes + advised.refcountCacheBytes.bytes)
        let byDefault = QemuCacheModel.effective(CacheConfig(), geometry: geometry)
        defaultL2CacheBytes = byDefault.l2CacheBytes
        defaultCoveragePercent = byDefault.l2CoveragePercent
        totalMemory = ByteSize(multiplyClamped(memoryPerVM.bytes, UInt64(vms)))
        if let memoryBudget {
            budget = try BudgetCoverage(budget: memoryBudget, vms: vms, geometry: geometry)
        } else {
            budget = nil
        }
    }
}

/// What a memory budget buys when each VM passes its share as the combined
/// `cache-size` (libvirt's `max_size`): QEMU keeps the 4-cluster refcount
/// minimum and gives the L2 cache the rest, up to full coverage.
public struct BudgetCoverage: Hashable, Sendable, Codable {
    public var budget: ByteSize
    public var perVM: ByteSize
    public var l2CacheBytes: ByteSize
    public var l2EntrySize: ByteSize
    public var refcountCacheBytes: ByteSize
    /// Disk bytes the L2 cache maps, capped at the disk size.
    public var coveredBytes: UInt64
    public var coveragePercent: Double
    /// IOPS at this coverage as a fraction of IOPS at the best measured
    /// coverage; set from measured results (`CoverageFit`), nil without them.
    public var expectedIOPSFraction: Double?
    /// True when the coverage lies outside the measured range and the
    /// fraction is the nearest measured point's.
    public var extrapolated: Bool?
    /// 95% CI of `expectedIOPSFraction`, `[low, high]`, when it comes from
    /// a fitted cost model (nil for the linear fallback, which has none).
    public var expectedIOPSFractionCI95: [Double]?
    /// Where the fraction comes from: the cost model of a named series, or
    /// straight lines between measured coverages.
    public var expectedIOPSBasis: String?

    public init(budget: ByteSize, vms: Int, geometry: ImageGeometry) throws(InvalidValue) {
        let perVM = ByteSize(budget.bytes / UInt64(max(1, vms)))
        let config = CacheConfig(cacheSize: .value(perVM))
        do throws(InvalidValue) {
            try QemuCacheModel.validate(config, geometry: geometry)
        } catch {
            let minimum = ByteSize(
                (QemuCacheModel.minRefcountClusters + QemuCacheModel.minL2Entries) * geometry.clusterSize.bytes)
            throw InvalidValue(
                field: "--memory-budget", value: budget.description,
                rule:
                    "\(perVM) per VM is too small: each VM needs at least \(QemuCacheModel.minRefcountClusters) refcount clusters plus \(QemuCacheModel.minL2Entries) L2 entries (\(minimum) at \(geometry.clusterSize) clusters, less with 4K entries)"
            )
        }
        let e = QemuCacheModel.effective(config, geometry: geometry)
        self.budget = budget
        self.perVM = perVM
        l2CacheBytes = e.l2CacheBytes
        l2EntrySize = e.l2EntrySize
        refcountCacheBytes = e.refcountCacheBytes
        coveredBytes = e.l2CoverageBytes
        coveragePercent = e.l2CoveragePercent
    }
}

/// IOPS as a function of L2 coverage, from measured cells: per-cell mean
/// IOPS, cells at the same coverage averaged, straight lines between
/// measured coverages. The fallback of `bench advise --from` for results
/// without QEMU's cache trace: where the trace is there, the fitted cost
/// model (misses × miss cost) predicts the curve instead, since a line
/// between two far-apart points says nothing about where the knee is.
public struct CoverageFit: Hashable, Sendable {
    public struct Point: Hashable, Sendable, Codable {
        public var coveragePercent: Double
        public var iops: Double
        public init(coveragePercent: Double, iops: Double) {
            self.coveragePercent = coveragePercent
            self.iops = iops
        }
    }

    /// One successful run: which cell, its effective coverage, its IOPS.
    public struct Sample: Hashable, Sendable {
        public var cellID: String
        public var coveragePercent: Double
        public var iops: Double
        public init(cellID: String, coveragePercent: Double, iops: Double) {
            self.cellID = cellID
            self.coveragePercent = coveragePercent
            self.iops = iops
        }
    }

    /// Sorted by coverage, one per distinct coverage.
    public let points: [Point]

    /// Nil unless the samples give two or more distinct coverages with
    /// positive IOPS: one point cannot say how IOPS changes.
    public init?(samples: [Sample]) {
        var byCell: [String: (coverage: Double, sum: Double, n: Int)] = [:]
        for s in samples where s.iops.isFinite && s.iops > 0 && s.coveragePercent.isFinite {
            var v = byCell[s.cellID] ?? (s.coveragePercent, 0, 0)
            v.sum += s.iops
            v.n += 1
            byCell[s.cellID] = v
        }
        var byCoverage: [Double: (sum: Double, n: Int)] = [:]
        for v in byCell.values {
            var p = byCoverage[v.coverage] ?? (0, 0)
            p.sum += v.sum / Double(v.n)
            p.n += 1
            byCoverage[v.coverage] = p
        }
        guard byCoverage.count >= 2 else { return nil }
        points = byCoverage.map { Point(coveragePercent: $0.key, iops: $0.value.sum / Double($0.value.n)) }
            .sorted { $0.coveragePercent < $1.coveragePercent }
    }

    /// Interpolated IOPS at `coverage` percent, and whether it lies outside
    /// the measured range (then the nearest end's value).
    public func iops(atCoverage coverage: Double) -> (iops: Double, extrapolated: Bool) {
        guard let first = points.first, let last = points.last else { return (0, true) }
        if coverage <= first.coveragePercent { return (first.iops, coverage < first.coveragePercent) }
        if coverage >= last.coveragePercent { return (last.iops, coverage > last.coveragePercent) }
        for (a, b) in zip(points, points.dropFirst()) where coverage <= b.coveragePercent {
            let t = (coverage - a.coveragePercent) / (b.coveragePercent - a.coveragePercent)
            return (a.iops + t * (b.iops - a.iops), false)
        }
        return (last.iops, false)
    }

    /// IOPS at `coverage` as a fraction of IOPS at the highest measured coverage.
    public func fraction(atCoverage coverage: Double) -> (fraction: Double, extrapolated: Bool) {
        let (v, ex) = iops(atCoverage: coverage)
        guard let top = points.last?.iops, top > 0 else { return (0, ex) }
        return (v / top, ex)
    }
}
