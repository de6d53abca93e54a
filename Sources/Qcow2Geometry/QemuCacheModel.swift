/// What QEMU's qcow2 driver actually allocates for a requested `CacheConfig`
/// (QEMU >= 4.0, Linux host), following `read_cache_sizes` and
/// `qcow2_update_options_prepare` in block/qcow2.c:
///
/// - `l2-cache-size` is a maximum: the cache is `min(setting, full coverage)`,
///   and the setting defaults to 32 MiB, so by default the whole disk is
///   covered up to 32 MiB of L2 tables.
/// - The L2 entry size defaults to the cluster size, but to
///   `min(cluster, 4 KiB)` when the cache does not cover the whole disk.
/// - Sizes become whole entries (rounded down) and are raised to at least
///   2 L2 entries and 4 refcount clusters.
/// - The refcount cache defaults to 4 clusters; the clean interval to 600 s.
public struct EffectiveCache: Hashable, Sendable, Codable {
    public var l2CacheBytes: ByteSize
    public var l2EntrySize: ByteSize
    public var l2Entries: UInt64
    public var refcountCacheBytes: ByteSize
    public var cacheCleanInterval: Int
    /// Disk bytes mapped by the effective L2 cache, capped at the disk size.
    public var l2CoverageBytes: UInt64
    public var l2CoveragePercent: Double
    public var refcountCoverageBytes: UInt64
    public var refcountCoveragePercent: Double
}

public enum QemuCacheModel {
    public static let defaultL2CacheMax = ByteSize.mib(32)
    public static let minL2Entries: UInt64 = 2
    public static let minRefcountClusters: UInt64 = 4
    public static let defaultCleanInterval = 600
    public static let minEntrySize = ByteSize(512)

    /// Checks the rules QEMU enforces before it would open the image, so a
    /// bad cell is refused before anything starts. `fieldPrefix` is prepended
    /// to option names in messages (e.g. `cache.` for matrix keys).
    public static func validate(_ config: CacheConfig, geometry: ImageGeometry, fieldPrefix: String = "") throws(InvalidValue) {
        if let e = config.l2CacheEntrySize.value {
            if !e.isPowerOfTwo || e < minEntrySize || e > geometry.clusterSize {
                throw InvalidValue(
                    field: fieldPrefix + "l2_cache_entry_size", value: e.description,
                    rule: "must be a power of two from 512 to the cluster size (\(geometry.clusterSize))")
            }
        }
        if let l2 = config.l2CacheSize.value {
            let entry = effectiveEntrySize(config, geometry: geometry)
            if l2.bytes / entry.bytes < minL2Entries {
                throw InvalidValue(
                    field: fieldPrefix + "l2_cache_size", value: l2.description,
                    rule: "must hold at least \(minL2Entries) L2 cache entries of \(entry) (at least \(ByteSize(entry.bytes * minL2Entries))); QEMU would silently raise it")
            }
        }
        if let i = config.cacheCleanInterval.value, i < 0 || i > Int(UInt32.max) {
            throw InvalidValue(field: fieldPrefix + "cache_clean_interval", value: "\(i)", rule: "must be a whole number of seconds from 0 to \(UInt32.max)")
        }
    }

    static func effectiveEntrySize(_ config: CacheConfig, geometry: ImageGeometry) -> ByteSize {
        if let e = config.l2CacheEntrySize.value { return e }
        let full = geometry.fullCoverageL2Bytes
        let maxSetting = config.l2CacheSize.value ?? defaultL2CacheMax
        let l2 = min(full, maxSetting)
        if l2 < full { return ByteSize(min(geometry.clusterSize.bytes, 4096)) }
        return geometry.clusterSize
    }

    /// The cache QEMU builds for `config` on an image of `geometry`.
    public static func effective(_ config: CacheConfig, geometry: ImageGeometry) -> EffectiveCache {
        let full = geometry.fullCoverageL2Bytes
        let requested = min(full, config.l2CacheSize.value ?? defaultL2CacheMax)
        let entry = effectiveEntrySize(config, geometry: geometry)
        let entries = max(minL2Entries, requested.bytes / entry.bytes)
        let l2Bytes = ByteSize(entries * entry.bytes)

        let cluster = geometry.clusterSize.bytes
        let refRequested = config.refcountCacheSize.value?.bytes ?? (minRefcountClusters * cluster)
        let refClusters = max(minRefcountClusters, refRequested / cluster)
        let refBytes = ByteSize(refClusters * cluster)

        let l2Cov = min(geometry.diskSize.bytes, geometry.l2Coverage(l2Bytes))
        let refCov = min(geometry.diskSize.bytes, geometry.refcountCoverage(refBytes))
        return EffectiveCache(
            l2CacheBytes: l2Bytes,
            l2EntrySize: entry,
            l2Entries: entries,
            refcountCacheBytes: refBytes,
            cacheCleanInterval: config.cacheCleanInterval.value ?? defaultCleanInterval,
            l2CoverageBytes: l2Cov,
            l2CoveragePercent: geometry.percentOfDisk(l2Cov),
            refcountCoverageBytes: refCov,
            refcountCoveragePercent: geometry.percentOfDisk(refCov)
        )
    }
}
