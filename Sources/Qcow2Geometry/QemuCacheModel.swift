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
/// - `cache-size` is a combined budget: with one of the other two sizes it
///   gets the remainder; alone it gives the L2 cache full coverage when it
///   can also keep 4 refcount clusters, and otherwise 4 refcount clusters
///   first (possibly leaving the L2 cache at its minimum).
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
    /// to option names in messages (e.g. `cache.` for matrix keys; `--` gives
    /// command-line spellings).
    public static func validate(_ config: CacheConfig, geometry: ImageGeometry, fieldPrefix: String = "") throws(InvalidValue) {
        // Command-line options are spelled with dashes (`--l2-cache-size`).
        func field(_ key: String) -> String {
            fieldPrefix == "--" ? "--" + String(key.map { $0 == "_" ? "-" : $0 }) : fieldPrefix + key
        }
        if let e = config.l2CacheEntrySize.value {
            if !e.isPowerOfTwo || e < minEntrySize || e > geometry.clusterSize {
                throw InvalidValue(
                    field: field("l2_cache_entry_size"), value: e.description,
                    rule: "must be a power of two from 512 to the cluster size (\(geometry.clusterSize))")
            }
        }
        if let combined = config.cacheSize.value {
            let l2 = config.l2CacheSize.value
            let refcount = config.refcountCacheSize.value
            if l2 != nil, refcount != nil {
                throw InvalidValue(
                    field: field("cache_size"), value: combined.description,
                    rule: "cannot be set together with both l2_cache_size and refcount_cache_size; QEMU accepts at most two of the three (it derives the third)")
            }
            if let l2, l2 > combined {
                throw InvalidValue(
                    field: field("l2_cache_size"), value: l2.description,
                    rule: "may not exceed cache_size (\(combined)), the combined L2 and refcount budget")
            }
            if let refcount, refcount > combined {
                throw InvalidValue(
                    field: field("refcount_cache_size"), value: refcount.description,
                    rule: "may not exceed cache_size (\(combined)), the combined L2 and refcount budget")
            }
            let split = requestedSplit(config, geometry: geometry)
            let entry = effectiveEntrySize(config, geometry: geometry, l2: split.l2)
            if l2 == nil, split.l2.bytes / entry.bytes < minL2Entries {
                throw InvalidValue(
                    field: field("cache_size"), value: combined.description,
                    rule: "leaves \(split.l2) for the L2 cache after \(split.refcount) of refcount cache, less than \(minL2Entries) L2 entries of \(entry) (\(ByteSize(entry.bytes * minL2Entries))); QEMU would silently raise it")
            }
        }
        if let l2 = config.l2CacheSize.value {
            let entry = effectiveEntrySize(config, geometry: geometry, l2: requestedSplit(config, geometry: geometry).l2)
            if l2.bytes / entry.bytes < minL2Entries {
                throw InvalidValue(
                    field: field("l2_cache_size"), value: l2.description,
                    rule: "must hold at least \(minL2Entries) L2 cache entries of \(entry) (at least \(ByteSize(entry.bytes * minL2Entries))); QEMU would silently raise it")
            }
        }
        if let refcount = config.refcountCacheSize.value {
            let minimum = ByteSize(geometry.clusterSize.bytes * minRefcountClusters)
            if refcount < minimum {
                throw InvalidValue(
                    field: field("refcount_cache_size"), value: refcount.description,
                    rule: "must hold at least \(minRefcountClusters) refcount blocks of the cluster size \(geometry.clusterSize) (at least \(minimum)); QEMU would silently raise it")
            }
        }
        if let i = config.cacheCleanInterval.value, i < 0 || i > Int(UInt32.max) {
            throw InvalidValue(field: field("cache_clean_interval"), value: "\(i)", rule: "must be a whole number of seconds from 0 to \(UInt32.max)")
        }
    }

    /// L2 and refcount cache bytes as `read_cache_sizes` settles them, before
    /// they become whole entries and minimums are applied. A refcount size of
    /// zero means "not set" there; it becomes the 4-cluster minimum later.
    /// Assumes `validate` passed (no negative remainders).
    static func requestedSplit(_ config: CacheConfig, geometry: ImageGeometry) -> (l2: ByteSize, refcount: ByteSize) {
        let full = geometry.fullCoverageL2Bytes
        var l2 = min(full, config.l2CacheSize.value ?? defaultL2CacheMax)
        var refcount = config.refcountCacheSize.value ?? ByteSize(0)
        guard let combined = config.cacheSize.value else { return (l2, refcount) }
        let minRefcount = ByteSize(minRefcountClusters * geometry.clusterSize.bytes)
        if config.l2CacheSize.value != nil {
            refcount = ByteSize(combined.bytes - min(combined.bytes, l2.bytes))
        } else if config.refcountCacheSize.value != nil {
            l2 = ByteSize(combined.bytes - min(combined.bytes, refcount.bytes))
        } else if combined.bytes >= full.bytes + minRefcount.bytes {
            l2 = full
            refcount = ByteSize(combined.bytes - full.bytes)
        } else {
            refcount = min(combined, minRefcount)
            l2 = ByteSize(combined.bytes - refcount.bytes)
        }
        return (l2, refcount)
    }

    /// The entry size QEMU uses with an L2 cache of `l2` bytes (from `requestedSplit`).
    static func effectiveEntrySize(_ config: CacheConfig, geometry: ImageGeometry, l2: ByteSize) -> ByteSize {
        if let e = config.l2CacheEntrySize.value { return e }
        if l2 < geometry.fullCoverageL2Bytes {
            return ByteSize(min(geometry.clusterSize.bytes, 4096))
        }
        return geometry.clusterSize
    }

    /// The cache QEMU builds for `config` on an image of `geometry`.
    public static func effective(_ config: CacheConfig, geometry: ImageGeometry) -> EffectiveCache {
        let split = requestedSplit(config, geometry: geometry)
        let entry = effectiveEntrySize(config, geometry: geometry, l2: split.l2)
        let entries = max(minL2Entries, split.l2.bytes / entry.bytes)
        let l2Bytes = ByteSize(entries * entry.bytes)

        let cluster = geometry.clusterSize.bytes
        let refClusters = max(minRefcountClusters, split.refcount.bytes / cluster)
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
