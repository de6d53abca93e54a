import GuestWire
import Qcow2Geometry

/// What the disk under test is.
public enum DiskKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// A qcow2 image: the subject of the benchmark.
    case qcow2
    /// QEMU's `null-co` driver: no storage at all, the ceiling of guest + driver.
    case null
    /// A raw image of the same size: the host storage path without qcow2 metadata.
    case raw
}

/// How a qcow2 image is prepared before the run.
public enum ImageState: String, Hashable, Sendable, Codable, CaseIterable {
    /// `preallocation=metadata`: every L2 table exists; writes only look up.
    case preallocated
    /// `preallocation=full`: every cluster allocated and its host blocks
    /// written, so a guest write allocates nothing, neither in qcow2 nor in
    /// the host file system (a metadata-preallocated image is sparse on the
    /// host: its first write to each host block allocates an extent). The
    /// state of an image that has been in use; making it writes the disk once.
    case allocated
    /// Empty image: every first write to a cluster allocates it.
    case fresh
    /// Every cluster allocated (`preallocation=falloc`), then an internal
    /// snapshot (`qemu-img snapshot -c`): each first write to a cluster is a
    /// copy-on-write that allocates a cluster and updates refcounts.
    case snapshot
    /// An empty qcow2 overlay on a backing qcow2 with every cluster
    /// allocated: writes allocate in the overlay and copy from the backing.
    case overlay
}

/// Where the random offsets land: a percentage of the disk or a byte count.
public enum Span: Hashable, Sendable, Codable, CustomStringConvertible {
    case percent(Int)
    case bytes(ByteSize)

    public static let whole = Span.percent(100)

    public init(parsing text: String, field: String) throws(InvalidValue) {
        let t = text.trimmingCharacters(in: " ")
        if t.hasSuffix("%") {
            guard let p = Int(t.dropLast()), (1...100).contains(p) else {
                throw InvalidValue(field: field, value: text, rule: "a percentage must be a whole number from 1% to 100%")
            }
            self = .percent(p)
        } else {
            self = .bytes(try ByteSize(parsing: t, field: field))
        }
    }

    /// Bytes of a disk of `diskSize` that the span covers.
    public func bytes(of diskSize: ByteSize) -> UInt64 {
        switch self {
        case .percent(let p):
            // floor(bytes * p / 100) without overflow; exact at 100%.
            let q = UInt64(p)
            return diskSize.bytes / 100 * q + diskSize.bytes % 100 * q / 100
        case .bytes(let b): return min(b.bytes, diskSize.bytes)
        }
    }

    public var description: String {
        switch self {
        case .percent(let p): "\(p)%"
        case .bytes(let b): b.description
        }
    }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        do { self = try Span(parsing: s, field: "span") } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set || s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last == set || s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}

/// The random-write workload run inside the guest.
public struct Workload: Hashable, Sendable, Codable {
    public var blockSize: ByteSize
    public var iodepth: Int
    public var ramp: TimeSpan
    public var runtime: TimeSpan
    public var span: Span
    /// The program generating the I/O in the guest: the native libaio loop,
    /// or fio with the equivalent job (a cross-check, at a higher CPU cost per I/O).
    public var driver: GuestDriver
    /// Where offsets fall within the span.
    public var distribution: OffsetDistribution
    /// Write and idle phases after the ramp; empty means one write phase of
    /// `runtime`. Each write phase is measured and reported on its own.
    public var phases: [WorkloadPhase]

    public init(
        blockSize: ByteSize = .kib(4), iodepth: Int = 32, ramp: TimeSpan = .seconds(2), runtime: TimeSpan = .seconds(10), span: Span = .whole,
        driver: GuestDriver = .native, distribution: OffsetDistribution = .uniform, phases: [WorkloadPhase] = []
    ) {
        self.blockSize = blockSize
        self.iodepth = iodepth
        self.ramp = ramp
        self.runtime = runtime
        self.span = span
        self.driver = driver
        self.distribution = distribution
        self.phases = phases
    }

    /// The phases the guest runs after the ramp.
    public var effectivePhases: [WorkloadPhase] { phases.isEmpty ? [.write(millis: runtime.milliseconds)] : phases }

    /// Time from the first I/O to the end of the last phase.
    public var totalMillis: UInt32 { ramp.milliseconds + effectivePhases.reduce(0) { $0 + $1.millis } }

    /// Measured (write) time.
    public var measuredMillis: UInt32 { effectivePhases.filter(\.isWrite).reduce(0) { $0 + $1.millis } }

    private enum CodingKeys: String, CodingKey {
        case blockSize, iodepth, ramp, runtime, span, driver, distribution, phases
    }

    /// Records written before `driver` existed have no such key: they were native.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        blockSize = try c.decode(ByteSize.self, forKey: .blockSize)
        iodepth = try c.decode(Int.self, forKey: .iodepth)
        ramp = try c.decode(TimeSpan.self, forKey: .ramp)
        runtime = try c.decode(TimeSpan.self, forKey: .runtime)
        span = try c.decode(Span.self, forKey: .span)
        driver = try c.decodeIfPresent(GuestDriver.self, forKey: .driver) ?? .native
        distribution = try c.decodeIfPresent(OffsetDistribution.self, forKey: .distribution) ?? .uniform
        phases = try c.decodeIfPresent([WorkloadPhase].self, forKey: .phases) ?? []
    }

    /// Leaves `driver` out when native, so native records keep their old bytes.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(blockSize, forKey: .blockSize)
        try c.encode(iodepth, forKey: .iodepth)
        try c.encode(ramp, forKey: .ramp)
        try c.encode(runtime, forKey: .runtime)
        try c.encode(span, forKey: .span)
        if driver != .native { try c.encode(driver, forKey: .driver) }
        if distribution != .uniform { try c.encode(distribution, forKey: .distribution) }
        if !phases.isEmpty { try c.encode(phases, forKey: .phases) }
    }

    /// The guest's view of this workload on a disk of `diskSize`.
    public func guestSpec(diskSize: ByteSize, seed: UInt64) -> WorkloadSpec {
        WorkloadSpec(
            blockSize: UInt32(blockSize.bytes), iodepth: UInt32(iodepth),
            rampMillis: ramp.milliseconds, runtimeMillis: runtime.milliseconds,
            spanBytes: span.bytes(of: diskSize), seed: seed, device: "vda", driver: driver,
            distribution: distribution, phases: phases)
    }
}

/// QEMU's host-side I/O settings for the image file.
public struct HostIO: Hashable, Sendable, Codable {
    /// `none` (O_DIRECT, the default: keeps the host page cache out of the
    /// numbers), `writeback`, `writethrough`, `directsync`, `unsafe`.
    public var cache: String
    /// `native` (Linux AIO), `threads`, `io_uring`.
    public var aio: String

    public static let allowedCache = ["none", "writeback", "writethrough", "directsync", "unsafe"]
    public static let allowedAio = ["native", "threads", "io_uring"]

    public init(cache: String = "none", aio: String = "native") {
        self.cache = cache
        self.aio = aio
    }

    /// `cache.direct` / `cache.no-flush` values for a `-blockdev` file node.
    public var direct: Bool { cache == "none" || cache == "directsync" }
    public var noFlush: Bool { cache == "unsafe" }
}

/// One point of the matrix: everything that determines a measurement.
/// Runs of the same cell are repetitions of one experiment.
public struct Cell: Hashable, Sendable, Codable {
    public var kind: DiskKind
    /// nil for `null` and `raw` cells.
    public var state: ImageState?
    public var geometry: ImageGeometry
    public var cache: CacheConfig
    public var hostIO: HostIO
    public var workload: Workload
    /// The QEMU build that runs this cell (`host.qemu_build`); nil is the
    /// default build `system` (QEMU on PATH), so records written before
    /// builds existed decode, and encode, as they were.
    public var qemuBuild: String?

    public init(kind: DiskKind = .qcow2, state: ImageState? = .preallocated, geometry: ImageGeometry, cache: CacheConfig = .init(), hostIO: HostIO = .init(), workload: Workload = .init()) {
        self.kind = kind
        self.state = kind == .qcow2 ? (state ?? .preallocated) : nil
        self.geometry = geometry
        self.cache = cache
        self.hostIO = hostIO
        self.workload = workload
    }

    /// A stable, readable identifier built from every setting that differs
    /// between cells; used to match cells across runs and files.
    public var id: String {
        guard let qemuBuild else { return baseID }
        return baseID + "-qb-" + qemuBuild
    }

    /// `id` without the build: the same configuration under another QEMU
    /// build has the same `baseID` (cross-build pairing and `compare`).
    public var baseID: String {
        switch kind {
        case .null: return "null-\(geometry.diskSize)-\(workloadTag)"
        case .raw: return "raw-\(geometry.diskSize)-\(hostIO.cache)-\(hostIO.aio)-\(workloadTag)"
        case .qcow2:
            let c = cache
            // Non-default image options are appended only when set, so the ids
            // of ordinary cells stay short and stable.
            var cluster = "c\(geometry.clusterSize)"
            if geometry.refcountBits != 16 { cluster += "-rb\(geometry.refcountBits)" }
            if geometry.extendedL2 { cluster += "-xl2" }
            var caches = ["l2=\(c.l2CacheSize)", "e=\(c.l2CacheEntrySize)", "rc=\(c.refcountCacheSize)", "ci=\(c.cacheCleanInterval)"]
            if !c.cacheSize.isDefault { caches.append("cs=\(c.cacheSize)") }
            return (["qcow2", (state ?? .preallocated).rawValue, geometry.diskSize.description, cluster] + caches + [hostIO.cache, hostIO.aio, workloadTag])
                .joined(separator: "-")
        }
    }

    /// The driver is appended only when it is not native, so the ids of
    /// existing (native) cells do not change.
    var workloadTag: String {
        var tag = "bs\(workload.blockSize)-qd\(workload.iodepth)-span\(workload.span)".replacingPercent()
        if workload.distribution != .uniform { tag += "-\(workload.distribution)" }
        if !workload.phases.isEmpty { tag += "-" + workload.phases.map(\.wire).joined(separator: ".") }
        return workload.driver == .native ? tag : "\(tag)-\(workload.driver.rawValue)"
    }

    /// What QEMU allocates for this cell (nil for reference cells).
    public var effectiveCache: EffectiveCache? {
        kind == .qcow2 ? QemuCacheModel.effective(cache, geometry: geometry) : nil
    }
}

extension String {
    func replacingPercent() -> String {
        var out = ""
        for ch in self { if ch == "%" { out += "pct" } else { out.append(ch) } }
        return out
    }
}
