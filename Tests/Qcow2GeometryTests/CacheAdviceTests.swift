import Testing

@testable import Qcow2Geometry

@Suite struct CacheAdviceTests {
    func advice(_ disk: ByteSize, cluster: ByteSize = .kib(64), extended: Bool = false, vms: Int = 1, budget: ByteSize? = nil) throws -> CacheAdvice {
        try CacheAdvice(geometry: ImageGeometry(diskSize: disk, clusterSize: cluster, extendedL2: extended), vms: vms, memoryBudget: budget)
    }

    @Test func hundredGigabytesAt64K() throws {
        let a = try advice(.gib(100))
        #expect(a.l2Need.bytes == 13_107_200)  // 12.5 MiB
        #expect(a.l2CacheSize.bytes == 13_107_200)
        #expect(a.refcountCacheSize == .kib(256))
        #expect(a.cacheSize.bytes == 13_107_200 + 262_144)
        #expect(a.memoryPerVM.bytes == 13_107_200 + 262_144)
        #expect(a.defaultCoveragePercent == 100)
        #expect(a.blockdevOption == "l2-cache-size=13107200")
        #expect(a.libvirtMetadataCacheXML.contains("<max_size unit='bytes'>13369344</max_size>"))
        #expect(a.libvirtPerCacheXML.contains("<qcow2 l2_cache_size='13107200' refcount_cache_size='262144'/>"))
    }

    @Test func oneTerabyteExceedsTheDefaultCap() throws {
        let a = try advice(ByteSize(1 << 40))
        #expect(a.l2Need == .mib(128))
        #expect(a.defaultL2CacheBytes == .mib(32))
        #expect(a.defaultCoveragePercent == 25)
    }

    @Test func extendedL2DoublesTheNeed() throws {
        #expect(try advice(.gib(100), extended: true).l2Need.bytes == 26_214_400)
        #expect(try advice(ByteSize(1 << 40), cluster: .kib(128), extended: true).l2Need == .mib(128))
    }

    @Test func smallestAndLargestClusters() throws {
        // 1G / 512 = 2M clusters * 8 = 16 MiB, a whole number of 512-byte clusters.
        #expect(try advice(.gib(1), cluster: ByteSize(512)).l2Need == .mib(16))
        // 100G / 2M = 51200 entries * 8 = 400K, rounded up to one 2M cluster.
        let big = try advice(.gib(100), cluster: .mib(2))
        #expect(big.l2Need == .mib(2))
        // QEMU keeps 2 entries: the option asks for 2 clusters, memory follows.
        #expect(big.l2CacheSize == .mib(4))
        #expect(big.memoryPerVM == .mib(4 + 8))
    }

    @Test func oddSizesRoundUpToWholeClusters() throws {
        // 1G + 1 byte: 16385 clusters * 8 = 131080 bytes -> 3 clusters.
        #expect(try advice(ByteSize((1 << 30) + 1)).l2Need.bytes == 3 * 65536)
        // 100000 bytes at 4K: 25 clusters * 8 = 200 -> one 4K cluster, raised to 2 entries.
        let tiny = try advice(ByteSize(100_000), cluster: .kib(4))
        #expect(tiny.l2Need == .kib(4))
        #expect(tiny.l2CacheSize == .kib(8))
        // 3 GiB + 512 bytes at 64K: 49153 clusters * 8 = 393224 -> 7 clusters.
        #expect(try advice(ByteSize(3 << 30 + 512)).l2Need.bytes == 7 * 65536)
    }

    /// The advised sizes are exact under the model of QEMU's rules: they give
    /// full coverage and one byte less does not, when the L2 tables are all
    /// used to the end. (When the last table is partly unused, one byte less
    /// switches QEMU to 4 KiB entries, which still map every used slice: the
    /// advice stays QEMU's own full-coverage size, with cluster-sized entries.)
    @Test(arguments: [
        (ByteSize.gib(100), ByteSize.kib(64), false), (ByteSize(1 << 40), .kib(64), false), (.gib(16), .kib(64), true),
        (.gib(1), ByteSize(512), false), (.gib(100), .mib(2), false), (ByteSize(3 << 30 + 512), .kib(64), false),
    ])
    func adviceIsTheSmallestFullCoverage(disk: ByteSize, cluster: ByteSize, extended: Bool) throws {
        let g = ImageGeometry(diskSize: disk, clusterSize: cluster, extendedL2: extended)
        let a = try CacheAdvice(geometry: g)
        func coverage(_ c: CacheConfig) -> Double { QemuCacheModel.effective(c, geometry: g).l2CoveragePercent }
        #expect(coverage(CacheConfig(l2CacheSize: .value(a.l2CacheSize))) == 100)
        #expect(coverage(CacheConfig(cacheSize: .value(a.cacheSize))) == 100)
        let alignedNeed = g.clusters * g.l2EntryBytes == a.l2Need.bytes
        if alignedNeed {
            #expect(coverage(CacheConfig(cacheSize: .value(ByteSize(a.cacheSize.bytes - 1)))) < 100)
        }
        if a.l2CacheSize == a.l2Need, alignedNeed {
            #expect(coverage(CacheConfig(l2CacheSize: .value(ByteSize(a.l2CacheSize.bytes - 1)))) < 100)
        }
        // The advice passes the harness's own validation of QEMU's rules.
        try QemuCacheModel.validate(CacheConfig(l2CacheSize: .value(a.l2CacheSize)), geometry: g)
    }

    @Test func vmsMultiplyTheMemory() throws {
        let a = try advice(.gib(100), vms: 10)
        #expect(a.totalMemory.bytes == 10 * (13_107_200 + 262_144))
    }

    @Test func budgetBuysCoverage() throws {
        // 100G at 64K: a 4 MiB budget for 2 VMs is 2 MiB each; 256K go to
        // refcounts, 1.75 MiB of 4K-entry L2 maps 1.75M / 8 * 64K = 14 GiB.
        let a = try advice(.gib(100), vms: 2, budget: .mib(4))
        let b = try #require(a.budget)
        #expect(b.perVM == .mib(2))
        #expect(b.refcountCacheBytes == .kib(256))
        #expect(b.l2CacheBytes == .kib(1792))
        #expect(b.l2EntrySize == .kib(4))
        #expect(b.coveredBytes == 14 << 30)
        #expect(abs(b.coveragePercent - 14) < 1e-9)
        // A budget above the need covers everything.
        #expect(try advice(.gib(1), budget: .mib(64)).budget?.coveragePercent == 100)
    }

    @Test func badInputNamesTheOption() {
        #expect(throws: InvalidValue.self) { try advice(.gib(1), cluster: ByteSize(3000)) }
        #expect { try advice(.gib(1), vms: 0) } throws: { ($0 as? InvalidValue)?.field == "--vms" }
        #expect { try advice(.gib(100), vms: 4, budget: .kib(256)) } throws: {
            ($0 as? InvalidValue)?.field == "--memory-budget"
        }
        #expect { try advice(.gib(1), cluster: .kib(4), extended: true) } throws: {
            ($0 as? InvalidValue)?.field == "--cluster-size"
        }
        // QEMU refuses 128G + 512 at 512-byte clusters ("image size is too large").
        #expect(throws: Never.self) { try advice(.gib(128), cluster: ByteSize(512)) }
        #expect { try advice(ByteSize((128 << 30) + 512), cluster: ByteSize(512)) } throws: {
            ($0 as? InvalidValue)?.field == "--disk-size"
        }
    }

    @Test func fitInterpolatesPerCellMeans() throws {
        let fit = try #require(
            CoverageFit(samples: [
                .init(cellID: "a", coveragePercent: 10, iops: 1000), .init(cellID: "a", coveragePercent: 10, iops: 3000),
                .init(cellID: "b", coveragePercent: 50, iops: 6000),
                .init(cellID: "c", coveragePercent: 100, iops: 10000), .init(cellID: "d", coveragePercent: 100, iops: 8000),
            ]))
        #expect(fit.points.map(\.coveragePercent) == [10, 50, 100])
        #expect(fit.points.map(\.iops) == [2000, 6000, 9000])
        #expect(fit.iops(atCoverage: 30).iops == 4000)
        #expect(fit.fraction(atCoverage: 75).fraction == 7500.0 / 9000)
        #expect(fit.fraction(atCoverage: 5) == (2000.0 / 9000, true))
        #expect(fit.fraction(atCoverage: 100) == (1, false))
        #expect(CoverageFit(samples: [.init(cellID: "a", coveragePercent: 10, iops: 1)]) == nil)
    }
}
