import Foundation
import Qcow2Geometry
import Testing

@Suite struct CoverageTests {
    let g16 = ImageGeometry(diskSize: .gib(16), clusterSize: .kib(64))

    @Test func oneMebibyteOfL2At64KClustersMapsEightGiB() {
        #expect(g16.l2Coverage(.mib(1)) == 8 << 30)
    }

    @Test func refcountCoverageWithSixteenBitEntries() {
        // 256 KiB * 64 KiB * 8 / 16 = 8 GiB: four refcount blocks of 32768 two-byte entries, one per 64 KiB cluster
        #expect(g16.refcountCoverage(.kib(256)) == 8 << 30)
        let g = ImageGeometry(diskSize: .gib(16), clusterSize: .kib(64), refcountBits: 64)
        #expect(g.refcountCoverage(.kib(256)) == 2 << 30)
    }

    @Test func fullCoverageRoundsUpToWholeClusters() {
        #expect(g16.fullCoverageL2Bytes == .mib(2))
        // QEMU's own example: 1280 MB at 64 KiB clusters needs 160 KiB of
        // entries but three whole clusters (192 KiB).
        #expect(ImageGeometry(diskSize: .mib(1280)).fullCoverageL2Bytes == .kib(192))
        #expect(ImageGeometry(diskSize: .gib(1), extendedL2: true).fullCoverageL2Bytes == .kib(256))
    }

    @Test func clusterSizeRules() {
        #expect(throws: InvalidValue.self) { try ImageGeometry(diskSize: .gib(1), clusterSize: ByteSize(3000)).validate() }
        #expect(throws: InvalidValue.self) { try ImageGeometry(diskSize: .gib(1), clusterSize: .mib(4)).validate() }
        #expect(throws: InvalidValue.self) { try ImageGeometry(diskSize: .gib(1), clusterSize: ByteSize(256)).validate() }
        #expect(throws: Never.self) { try ImageGeometry(diskSize: .gib(1), clusterSize: .mib(2)).validate() }
    }
}

@Suite struct QemuCacheModelTests {
    let g16 = ImageGeometry(diskSize: .gib(16), clusterSize: .kib(64))

    @Test func defaultCoversWholeDiskWithClusterSizedEntries() {
        let e = QemuCacheModel.effective(CacheConfig(), geometry: g16)
        #expect(e.l2CacheBytes == .mib(2))
        #expect(e.l2EntrySize == .kib(64))
        #expect(e.l2CoveragePercent == 100)
        #expect(e.refcountCacheBytes == .kib(256))
        #expect(e.cacheCleanInterval == 600)
    }

    @Test func requestAboveNeedIsCappedAtFullCoverage() {
        let e = QemuCacheModel.effective(CacheConfig(l2CacheSize: .value(.mib(4))), geometry: g16)
        #expect(e.l2CacheBytes == .mib(2))
        #expect(e.l2EntrySize == .kib(64))
    }

    @Test func partialCoverageSwitchesToFourKiBEntries() {
        let e = QemuCacheModel.effective(CacheConfig(l2CacheSize: .value(.kib(128))), geometry: g16)
        #expect(e.l2EntrySize == .kib(4))
        #expect(e.l2Entries == 32)
        #expect(e.l2CoverageBytes == 1 << 30)
        #expect(e.l2CoveragePercent == 6.25)
    }

    @Test func pinnedEntrySizeIsKept() {
        let e = QemuCacheModel.effective(CacheConfig(l2CacheSize: .value(.kib(128)), l2CacheEntrySize: .value(.kib(64))), geometry: g16)
        #expect(e.l2EntrySize == .kib(64))
        #expect(e.l2Entries == 2)
    }

    @Test func minimumsAreRaised() {
        let e = QemuCacheModel.effective(CacheConfig(refcountCacheSize: .value(.kib(64))), geometry: g16)
        #expect(e.refcountCacheBytes == .kib(256))
    }

    @Test func validationRules() {
        #expect(throws: InvalidValue(field: "l2_cache_entry_size", value: "128K", rule: "must be a power of two from 512 to the cluster size (64K)")) {
            try QemuCacheModel.validate(CacheConfig(l2CacheEntrySize: .value(.kib(128))), geometry: g16)
        }
        #expect(throws: InvalidValue.self) {
            try QemuCacheModel.validate(CacheConfig(l2CacheEntrySize: .value(ByteSize(3000))), geometry: g16)
        }
        #expect(throws: InvalidValue.self) {
            try QemuCacheModel.validate(CacheConfig(l2CacheSize: .value(.kib(4))), geometry: g16)
        }
        #expect(throws: Never.self) {
            try QemuCacheModel.validate(CacheConfig(l2CacheSize: .value(.kib(8))), geometry: g16)
        }
    }

    @Test func blockdevOptionsOmitDefaults() {
        let c = CacheConfig(l2CacheSize: .value(.mib(1)), cacheCleanInterval: .value(0))
        #expect(c.blockdevOptions.map { "\($0.key)=\($0.value)" } == ["l2-cache-size=1048576", "cache-clean-interval=0"])
        #expect(CacheConfig().isAllDefault)
    }
}

/// QEMU's combined `cache-size` (`read_cache_sizes` in block/qcow2.c), on a
/// 16 GiB image with 64 KiB clusters: full L2 coverage needs 2 MiB, the
/// refcount minimum is 4 clusters = 256 KiB.
@Suite struct CombinedCacheSizeTests {
    let g16 = ImageGeometry(diskSize: .gib(16), clusterSize: .kib(64))

    func effective(_ c: CacheConfig) -> EffectiveCache { QemuCacheModel.effective(c, geometry: g16) }

    @Test func aloneAndLargeGivesFullCoverageAndTheRestToRefcounts() {
        let e = effective(CacheConfig(cacheSize: .value(.mib(4))))
        #expect(e.l2CacheBytes == .mib(2))
        #expect(e.l2EntrySize == .kib(64))
        #expect(e.refcountCacheBytes == .mib(2))
    }

    @Test func aloneAndSmallKeepsFourRefcountClustersFirst() {
        // 1M < 2M + 256K: refcount min(1M, 256K), L2 the remaining 768K.
        let e = effective(CacheConfig(cacheSize: .value(.mib(1))))
        #expect(e.refcountCacheBytes == .kib(256))
        #expect(e.l2CacheBytes == .kib(768))
        #expect(e.l2EntrySize == .kib(4))
        #expect(e.l2Entries == 192)
        #expect(e.l2CoveragePercent == 37.5)
    }

    @Test func withL2SizeTheRefcountCacheGetsTheRemainderOfTheCappedL2() {
        #expect(effective(CacheConfig(l2CacheSize: .value(.kib(512)), cacheSize: .value(.mib(1)))).refcountCacheBytes == .kib(512))
        // l2-cache-size 3M is capped at the 2M full coverage needs; 3M - 2M = 1M.
        let capped = effective(CacheConfig(l2CacheSize: .value(.mib(3)), cacheSize: .value(.mib(3))))
        #expect(capped.l2CacheBytes == .mib(2))
        #expect(capped.refcountCacheBytes == .mib(1))
    }

    @Test func withRefcountSizeTheL2CacheGetsTheRemainder() {
        let e = effective(CacheConfig(refcountCacheSize: .value(.kib(768)), cacheSize: .value(.mib(1))))
        #expect(e.l2CacheBytes == .kib(256))
        #expect(e.refcountCacheBytes == .kib(768))
    }

    @Test func rulesQemuEnforces() {
        #expect(
            throws: InvalidValue(
                field: "cache.cache_size", value: "1M",
                rule: "cannot be set together with both l2_cache_size and refcount_cache_size; QEMU accepts at most two of the three (it derives the third)")
        ) {
            try QemuCacheModel.validate(
                CacheConfig(l2CacheSize: .value(.kib(512)), refcountCacheSize: .value(.kib(256)), cacheSize: .value(.mib(1))),
                geometry: g16, fieldPrefix: "cache.")
        }
        #expect(throws: InvalidValue(field: "--l2-cache-size", value: "4M", rule: "may not exceed cache_size (2M), the combined L2 and refcount budget")) {
            try QemuCacheModel.validate(CacheConfig(l2CacheSize: .value(.mib(4)), cacheSize: .value(.mib(2))), geometry: g16, fieldPrefix: "--")
        }
        #expect(throws: InvalidValue(field: "refcount_cache_size", value: "2M", rule: "may not exceed cache_size (1M), the combined L2 and refcount budget")) {
            try QemuCacheModel.validate(CacheConfig(refcountCacheSize: .value(.mib(2)), cacheSize: .value(.mib(1))), geometry: g16)
        }
        #expect(
            throws: InvalidValue(
                field: "cache_size", value: "256K",
                rule: "leaves 0 for the L2 cache after 256K of refcount cache, less than 2 L2 entries of 4K (8K); QEMU would silently raise it")
        ) {
            try QemuCacheModel.validate(CacheConfig(cacheSize: .value(.kib(256))), geometry: g16)
        }
        #expect(throws: Never.self) { try QemuCacheModel.validate(CacheConfig(cacheSize: .value(.mib(1))), geometry: g16) }
    }

    @Test func goesFirstOnTheCommandLine() {
        let c = CacheConfig(l2CacheSize: .value(.kib(512)), cacheSize: .value(.mib(1)))
        #expect(c.blockdevOptions.map { "\($0.key)=\($0.value)" } == ["cache-size=1048576", "l2-cache-size=524288"])
    }

    @Test func recordsWithoutItStillDecodeAndUnsetItIsNotWritten() throws {
        let old = #"{"cacheCleanInterval":"default","l2CacheEntrySize":"default","l2CacheSize":131072,"refcountCacheSize":"default"}"#
        let decoded = try JSONDecoder().decode(CacheConfig.self, from: Data(old.utf8))
        #expect(decoded == CacheConfig(l2CacheSize: .value(.kib(128))))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(decoded), as: UTF8.self) == old)
        let set = CacheConfig(cacheSize: .value(.mib(1)))
        #expect(try JSONDecoder().decode(CacheConfig.self, from: encoder.encode(set)) == set)
    }
}
