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
