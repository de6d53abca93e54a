/// The qcow2 cache options of one run, as requested. `default` means the
/// option is not passed to QEMU.
public struct CacheConfig: Hashable, Sendable, Codable {
    public var l2CacheSize: Setting<ByteSize>
    public var l2CacheEntrySize: Setting<ByteSize>
    public var refcountCacheSize: Setting<ByteSize>
    /// Seconds; 0 disables cleaning.
    public var cacheCleanInterval: Setting<Int>
    /// QEMU's combined `cache-size`: L2 plus refcount cache, split by QEMU
    /// (`QemuCacheModel`). It is the one size libvirt can set
    /// (`<metadata_cache><max_size>`), so operators meet it more than the others.
    public var cacheSize: Setting<ByteSize>

    public init(
        l2CacheSize: Setting<ByteSize> = .default,
        l2CacheEntrySize: Setting<ByteSize> = .default,
        refcountCacheSize: Setting<ByteSize> = .default,
        cacheCleanInterval: Setting<Int> = .default,
        cacheSize: Setting<ByteSize> = .default
    ) {
        self.l2CacheSize = l2CacheSize
        self.l2CacheEntrySize = l2CacheEntrySize
        self.refcountCacheSize = refcountCacheSize
        self.cacheCleanInterval = cacheCleanInterval
        self.cacheSize = cacheSize
    }

    enum CodingKeys: String, CodingKey {
        case l2CacheSize, l2CacheEntrySize, refcountCacheSize, cacheCleanInterval, cacheSize
    }

    /// `cacheSize` may be absent: records written before it existed did not set it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        l2CacheSize = try c.decode(Setting<ByteSize>.self, forKey: .l2CacheSize)
        l2CacheEntrySize = try c.decode(Setting<ByteSize>.self, forKey: .l2CacheEntrySize)
        refcountCacheSize = try c.decode(Setting<ByteSize>.self, forKey: .refcountCacheSize)
        cacheCleanInterval = try c.decode(Setting<Int>.self, forKey: .cacheCleanInterval)
        cacheSize = try c.decodeIfPresent(Setting<ByteSize>.self, forKey: .cacheSize) ?? .default
    }

    /// Writes `cacheSize` only when set, so records of cells without it keep
    /// the shape they always had.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(l2CacheSize, forKey: .l2CacheSize)
        try c.encode(l2CacheEntrySize, forKey: .l2CacheEntrySize)
        try c.encode(refcountCacheSize, forKey: .refcountCacheSize)
        try c.encode(cacheCleanInterval, forKey: .cacheCleanInterval)
        if !cacheSize.isDefault { try c.encode(cacheSize, forKey: .cacheSize) }
    }

    /// The options exactly as they go on a qcow2 `-blockdev` node, in a fixed
    /// order; options left at `default` are absent.
    public var blockdevOptions: [(key: String, value: String)] {
        var out: [(String, String)] = []
        if let v = cacheSize.value { out.append(("cache-size", "\(v.bytes)")) }
        if let v = l2CacheSize.value { out.append(("l2-cache-size", "\(v.bytes)")) }
        if let v = l2CacheEntrySize.value { out.append(("l2-cache-entry-size", "\(v.bytes)")) }
        if let v = refcountCacheSize.value { out.append(("refcount-cache-size", "\(v.bytes)")) }
        if let v = cacheCleanInterval.value { out.append(("cache-clean-interval", "\(v)")) }
        return out
    }

    public var isAllDefault: Bool { blockdevOptions.isEmpty }
}
