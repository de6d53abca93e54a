import GuestWire
import Qcow2Geometry

/// A benchmark plan as a matrix file states it: one workload, a list of values
/// per axis, and which reference cells to add. The cells are the cartesian
/// product of the axes, minus the `[[exclude]]` combinations, plus the
/// reference cells. Kept as the user wrote it (`default` stays `default`) so
/// reports can show both the request and QEMU's effective value.
///
/// Values built with `parse` or `load` have passed `validate()`; a matrix
/// assembled in code should call it too before anything starts.
public struct Matrix: Hashable, Sendable {
    /// Short identifier recorded with every result (letters, digits, `-`, `_`, `.`).
    public var name: String
    /// Free text for people; not part of `hash`.
    public var description: String
    public var workload: Workload
    /// Runs per cell (`workload.repeat`).
    public var repetitions: Int
    /// Seeds the run order and the guest's offset generator (`workload.seed`).
    public var seed: UInt64
    /// Shared guest or not, and how many blocks (`workload.isolation`,
    /// `target_ci`, `min_blocks`, `max_blocks`, `budget`).
    public var pairing = Pairing()

    /// `image.disk_size`: virtual disk sizes.
    public var diskSizes: [ByteSize]
    /// `image.cluster_size`: qcow2 cluster sizes; with the disk size they set
    /// how much L2 cache full coverage needs.
    public var clusterSizes: [ByteSize]
    /// `image.state`: preallocated (lookups only), fresh (allocating writes),
    /// snapshot (copy-on-write after an internal snapshot), overlay (allocating
    /// writes over a backing file).
    public var states: [ImageState]
    /// `image.refcount_bits`: refcount entry widths; they set refcount cache coverage.
    public var refcountBits: [Int]

    /// `cache.l2_cache_size`; `.default` means the option is not passed to QEMU.
    public var l2CacheSizes: [Setting<ByteSize>]
    /// `cache.l2_cache_entry_size`; pin it to keep it constant across a coverage sweep.
    public var l2CacheEntrySizes: [Setting<ByteSize>]
    /// `cache.refcount_cache_size`.
    public var refcountCacheSizes: [Setting<ByteSize>]
    /// `cache.cache_clean_interval`, in seconds (0 disables cleaning).
    public var cacheCleanIntervals: [Setting<Int>]
    /// `cache.cache_size`: QEMU's combined L2 + refcount budget (libvirt's
    /// `<metadata_cache><max_size>`); at most two of the three sizes per cell.
    public var cacheSizes: [Setting<ByteSize>]

    /// `host.cache`: QEMU cache modes of the image file (`HostIO.allowedCache`).
    public var hostCaches: [String]
    /// `host.aio`: QEMU AIO back-ends (`HostIO.allowedAio`).
    public var hostAios: [String]
    /// `host.qemu_build`: names of QEMU builds (`--qemu-build NAME=PATH`);
    /// the first is the base the others are compared against. A file names
    /// builds, never paths, so it stays portable between machines.
    public var qemuBuilds: [String] = [QemuBuildName.system]

    /// Add a `null-co` cell per disk size: the ceiling of guest + driver.
    public var includeNull: Bool
    /// Add a raw-image cell per (disk size, host cache, aio): the host storage
    /// path without qcow2 metadata.
    public var includeRaw: Bool
    /// Combinations of axis values dropped from the qcow2 cells.
    public var excludes: [Exclusion]

    /// Where the matrix came from: a file path or `<embedded default>`.
    /// Prefixes every error message; not part of `hash`.
    public var source: String

    /// Runs per cell allowed in a matrix file: enough for statistics, and a
    /// bound that catches a stray extra digit.
    public static let repetitionRange = 1...100
    /// The most qcow2 cells a matrix may expand to; a guard against a typo
    /// that would schedule days of runs.
    public static let maxCells = 10_000
    /// Defaults are those of a matrix file that omits the key; `validate()`
    /// before use.
    public init(
        name: String,
        description: String = "",
        workload: Workload = Workload(),
        repetitions: Int = 3,
        seed: UInt64 = 1,
        diskSizes: [ByteSize] = [.gib(16)],
        clusterSizes: [ByteSize] = [.kib(64)],
        states: [ImageState] = [.preallocated],
        refcountBits: [Int] = [16],
        l2CacheSizes: [Setting<ByteSize>] = [.default],
        l2CacheEntrySizes: [Setting<ByteSize>] = [.default],
        refcountCacheSizes: [Setting<ByteSize>] = [.default],
        cacheCleanIntervals: [Setting<Int>] = [.default],
        cacheSizes: [Setting<ByteSize>] = [.default],
        hostCaches: [String] = ["none"],
        hostAios: [String] = ["native"],
        includeNull: Bool = false,
        includeRaw: Bool = false,
        excludes: [Exclusion] = [],
        source: String = "<memory>"
    ) {
        self.name = name
        self.description = description
        self.workload = workload
        self.repetitions = repetitions
        self.seed = seed
        self.diskSizes = diskSizes
        self.clusterSizes = clusterSizes
        self.states = states
        self.refcountBits = refcountBits
        self.l2CacheSizes = l2CacheSizes
        self.l2CacheEntrySizes = l2CacheEntrySizes
        self.refcountCacheSizes = refcountCacheSizes
        self.cacheCleanIntervals = cacheCleanIntervals
        self.cacheSizes = cacheSizes
        self.hostCaches = hostCaches
        self.hostAios = hostAios
        self.includeNull = includeNull
        self.includeRaw = includeRaw
        self.excludes = excludes
        self.source = source
    }

    /// Replaces workload settings from the command line (e.g. a quicker
    /// `--runtime` while iterating). `nil` keeps the file's value. The caller
    /// checks ranges (`repetitionRange`, a runtime above zero). Changes `hash`,
    /// because results taken with other settings are a different experiment.
    public mutating func override(runtime: TimeSpan?, ramp: TimeSpan?, repetitions: Int?) {
        if let runtime { workload.runtime = runtime }
        if let ramp { workload.ramp = ramp }
        if let repetitions { self.repetitions = repetitions }
    }
}

// MARK: - Axes and exclusions

extension Matrix {
    /// One list-valued key of a matrix file. The raw value is the key as
    /// written in its section and in `[[exclude]]` tables.
    public enum Axis: String, CaseIterable, Hashable, Sendable {
        case diskSize = "disk_size"
        case clusterSize = "cluster_size"
        case state
        case refcountBits = "refcount_bits"
        case l2CacheSize = "l2_cache_size"
        case l2CacheEntrySize = "l2_cache_entry_size"
        case refcountCacheSize = "refcount_cache_size"
        case cacheCleanInterval = "cache_clean_interval"
        case cacheSize = "cache_size"
        case hostCache = "cache"
        case hostAio = "aio"
        case qemuBuild = "qemu_build"

        /// The TOML table the axis lives in.
        public var section: String {
            switch self {
            case .diskSize, .clusterSize, .state, .refcountBits: "image"
            case .l2CacheSize, .l2CacheEntrySize, .refcountCacheSize, .cacheCleanInterval, .cacheSize: "cache"
            case .hostCache, .hostAio, .qemuBuild: "host"
            }
        }

        /// `section.key`, as used in error messages.
        public var keyPath: String { "\(section).\(rawValue)" }

        /// The canonical spelling of this axis's value in `cell` (`64K`,
        /// `default`, `fresh`), the form `Exclusion` compares.
        public func value(of cell: Cell) -> String {
            switch self {
            case .diskSize: cell.geometry.diskSize.description
            case .clusterSize: cell.geometry.clusterSize.description
            case .state: (cell.state ?? .preallocated).rawValue
            case .refcountBits: "\(cell.geometry.refcountBits)"
            case .l2CacheSize: cell.cache.l2CacheSize.description
            case .l2CacheEntrySize: cell.cache.l2CacheEntrySize.description
            case .refcountCacheSize: cell.cache.refcountCacheSize.description
            case .cacheCleanInterval: cell.cache.cacheCleanInterval.description
            case .cacheSize: cell.cache.cacheSize.description
            case .hostCache: cell.hostIO.cache
            case .hostAio: cell.hostIO.aio
            case .qemuBuild: cell.build
            }
        }
    }

    /// One `[[exclude]]` table: drops every qcow2 cell whose values match all
    /// of its conditions. Values are canonical spellings (`Axis.value(of:)`),
    /// so `65536` in a file matches the axis value `64K`.
    public struct Exclusion: Hashable, Sendable {
        public var conditions: [Axis: String]

        public init(_ conditions: [Axis: String]) { self.conditions = conditions }

        public func matches(_ cell: Cell) -> Bool {
            conditions.allSatisfy { axis, value in axis.value(of: cell) == value }
        }

        /// `aio=native;state=fresh`: conditions in axis order, for hashing and display.
        public var canonical: String {
            Axis.allCases.compactMap { axis in conditions[axis].map { "\(axis.rawValue)=\($0)" } }
                .joined(separator: ";")
        }
    }

    /// The canonical spellings of one axis's values, in file order.
    public func values(of axis: Axis) -> [String] {
        switch axis {
        case .diskSize: diskSizes.map(\.description)
        case .clusterSize: clusterSizes.map(\.description)
        case .state: states.map(\.rawValue)
        case .refcountBits: refcountBits.map { "\($0)" }
        case .l2CacheSize: l2CacheSizes.map(\.description)
        case .l2CacheEntrySize: l2CacheEntrySizes.map(\.description)
        case .refcountCacheSize: refcountCacheSizes.map(\.description)
        case .cacheCleanInterval: cacheCleanIntervals.map(\.description)
        case .cacheSize: cacheSizes.map(\.description)
        case .hostCache: hostCaches
        case .hostAio: hostAios
        case .qemuBuild: qemuBuilds
        }
    }
}

// MARK: - Expansion

extension Matrix {
    /// Size of the full cartesian product of the axes, before exclusions;
    /// `nil` if it overflows.
    var productSize: Int? {
        var n = 1
        for axis in Axis.allCases {
            let (r, overflow) = n.multipliedReportingOverflow(by: values(of: axis).count)
            if overflow { return nil }
            n = r
        }
        return n
    }

    /// The qcow2 cells that remain after exclusions, in axis order: the
    /// build varies slowest (all cells of the first build, then the next),
    /// then the first axis (`disk_size`), the last (`aio`) fastest, each in
    /// file order.
    public func qcow2Cells() -> [Cell] {
        qemuBuilds.flatMap { qcow2Cells(build: $0) }
    }

    private func qcow2Cells(build: String) -> [Cell] {
        var out: [Cell] = []
        for disk in diskSizes {
            for cluster in clusterSizes {
                for state in states {
                    for bits in refcountBits {
                        let geometry = ImageGeometry(diskSize: disk, clusterSize: cluster, refcountBits: bits)
                        for l2 in l2CacheSizes {
                            for entry in l2CacheEntrySizes {
                                for refcount in refcountCacheSizes {
                                    for interval in cacheCleanIntervals {
                                        for combined in cacheSizes {
                                            let cache = CacheConfig(
                                                l2CacheSize: l2, l2CacheEntrySize: entry,
                                                refcountCacheSize: refcount, cacheCleanInterval: interval,
                                                cacheSize: combined)
                                            for hostCache in hostCaches {
                                                for aio in hostAios {
                                                    var cell = Cell(
                                                        kind: .qcow2, state: state, geometry: geometry, cache: cache,
                                                        hostIO: HostIO(cache: hostCache, aio: aio), workload: workload)
                                                    cell.build = build
                                                    if !excludes.contains(where: { $0.matches(cell) }) { out.append(cell) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Every cell to run, in a deterministic order: `null` cells, then `raw`
    /// cells, then the qcow2 cells in axis order (see `qcow2Cells()`).
    ///
    /// Reference cells are derived from the qcow2 cells that remain, because
    /// they exist to put those in proportion: one `null` cell per distinct disk
    /// size, one `raw` cell per distinct (disk size, host cache, aio), in order
    /// of first appearance. They ignore cluster size and cache settings, which
    /// do not apply to them. With several builds, each build's cells
    /// (references first) follow the previous build's.
    public func cells() -> [Cell] {
        qemuBuilds.flatMap { build in
            cells(qcow2: qcow2Cells(build: build)).map { cell in
                var c = cell
                c.build = build
                return c
            }
        }
    }

    private func cells(qcow2: [Cell]) -> [Cell] {
        var references: [Cell] = []
        if includeNull {
            var seen: Set<ByteSize> = []
            for cell in qcow2 where seen.insert(cell.geometry.diskSize).inserted {
                references.append(
                    Cell(kind: .null, geometry: ImageGeometry(diskSize: cell.geometry.diskSize), workload: workload))
            }
        }
        if includeRaw {
            var seen: Set<HostKey> = []
            for cell in qcow2
            where seen.insert(HostKey(diskSize: cell.geometry.diskSize, hostIO: cell.hostIO)).inserted {
                references.append(
                    Cell(
                        kind: .raw, geometry: ImageGeometry(diskSize: cell.geometry.diskSize), hostIO: cell.hostIO,
                        workload: workload))
            }
        }
        return references + qcow2
    }

    private struct HostKey: Hashable {
        var diskSize: ByteSize
        var hostIO: HostIO
    }

    /// Runs the matrix schedules: every cell, `repetitions` times.
    public var runCount: Int { cells().count * repetitions }

    /// Per-run cost besides ramp + runtime under TCG on a 2-core host (boot,
    /// image preparation, teardown, image removal): 7.8 s measured over the
    /// 18 runs of results/reference. `--dry-run` and planning both use it.
    public static let runOverheadSeconds = 7.5

    /// Rough wall time of the whole matrix, for planning and progress output:
    /// each run costs `overheadSeconds` plus ramp and runtime.
    public func estimatedSeconds(overheadSeconds: Double = Matrix.runOverheadSeconds) -> Double {
        Double(runCount) * (overheadSeconds + Double(workload.totalMillis) / 1000)
    }
}

// MARK: - Identity

extension Matrix {
    /// The content that decides what gets measured, one `key=value` per line
    /// in a fixed order with canonical spellings: independent of key order,
    /// whitespace, comments and spelling (`65536` = `64K`) in the file.
    /// Axis values keep file order (it decides cell order, and so run order).
    /// Leaves out `description` and `source`, which do not change results.
    public var canonicalDescription: String {
        var lines = [
            "qcb-matrix/1",
            "name=\(name)",
            "workload.block_size=\(workload.blockSize)",
            "workload.iodepth=\(workload.iodepth)",
            "workload.ramp=\(workload.ramp)",
            "workload.runtime=\(workload.runtime)",
            "workload.span=\(workload.span)",
            "workload.repeat=\(repetitions)",
            "workload.seed=\(seed)",
        ]
        // Only when not native, so the hashes of existing matrices stay as they were.
        if workload.driver != .native { lines.append("workload.driver=\(workload.driver.rawValue)") }
        if workload.distribution != .uniform { lines.append("workload.distribution=\(workload.distribution)") }
        if !workload.phases.isEmpty { lines.append("workload.phases=" + workload.phases.map(\.description).joined(separator: ",")) }
        lines += pairing.canonicalLines
        for axis in Axis.allCases {
            // cache_size came later: left out while unused, so older matrices keep their hashes.
            if axis == .cacheSize && cacheSizes == [.default] { continue }
            if axis == .qemuBuild && qemuBuilds == [QemuBuildName.system] { continue }
            lines.append("\(axis.keyPath)=\(values(of: axis).joined(separator: ","))")
        }
        lines.append("reference.null=\(includeNull)")
        lines.append("reference.raw=\(includeRaw)")
        // Exclusions are a set: their order in the file changes nothing.
        for exclusion in Set(excludes.map(\.canonical)).sorted() {
            lines.append("exclude=\(exclusion)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A stable 16-hex-digit digest (FNV-1a 64) of `canonicalDescription`,
    /// recorded with every result so runs of the same experiment can be found
    /// and compared even when the file was reformatted or renamed.
    public var hash: String { FNV1a64.hex(canonicalDescription) }
}
