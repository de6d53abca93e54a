/// The qcow2 cache options of one run, as requested. `default` means the
/// option is not passed to QEMU.
public struct CacheConfig: Hashable, Sendable, Codable {
    public var l2CacheSize: Setting<ByteSize>
    public var l2CacheEntrySize: Setting<ByteSize>
    public var refcountCacheSize: Setting<ByteSize>
    /// Seconds; 0 disables cleaning.
    public var cacheCleanInterval: Setting<Int>

    public init(
        l2CacheSize: Setting<ByteSize> = .default,
        l2CacheEntrySize: Setting<ByteSize> = .default,
        refcountCacheSize: Setting<ByteSize> = .default,
        cacheCleanInterval: Setting<Int> = .default
    ) {
        self.l2CacheSize = l2CacheSize
        self.l2CacheEntrySize = l2CacheEntrySize
        self.refcountCacheSize = refcountCacheSize
        self.cacheCleanInterval = cacheCleanInterval
    }

    /// The options exactly as they go on a qcow2 `-blockdev` node, in a fixed
    /// order; options left at `default` are absent.
    public var blockdevOptions: [(key: String, value: String)] {
        var out: [(String, String)] = []
        if let v = l2CacheSize.value { out.append(("l2-cache-size", "\(v.bytes)")) }
        if let v = l2CacheEntrySize.value { out.append(("l2-cache-entry-size", "\(v.bytes)")) }
        if let v = refcountCacheSize.value { out.append(("refcount-cache-size", "\(v.bytes)")) }
        if let v = cacheCleanInterval.value { out.append(("cache-clean-interval", "\(v)")) }
        return out
    }

    public var isAllDefault: Bool { blockdevOptions.isEmpty }
}
