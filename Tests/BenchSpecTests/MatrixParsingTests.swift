import Qcow2Geometry
import Testing

@testable import BenchSpec

@Suite("Matrix file parsing")
struct MatrixParsingTests {
    @Test func fullExample() throws {
        let m = try Fixtures.parse(Fixtures.fullExample)
        #expect(m.name == "default")
        #expect(m.description == "L2 cache coverage sweep ...")
        #expect(m.source == "m.toml")
        #expect(m.workload == Workload(blockSize: .kib(4), iodepth: 32, ramp: .seconds(2), runtime: .seconds(8), span: .whole))
        #expect(m.repetitions == 3)
        #expect(m.seed == 1)
        #expect(m.diskSizes == [.gib(16)])
        #expect(m.clusterSizes == [.kib(64)])
        #expect(m.states == [.preallocated])
        #expect(m.refcountBits == [16])
        #expect(m.l2CacheSizes == [.value(.kib(64)), .value(.kib(256)), .value(.mib(1)), .default])
        #expect(m.l2CacheEntrySizes == [.default])
        #expect(m.refcountCacheSizes == [.default])
        #expect(m.cacheCleanIntervals == [.default])
        #expect(m.hostCaches == ["none"])
        #expect(m.hostAios == ["native"])
        #expect(m.includeNull && m.includeRaw)
        #expect(m.excludes == [Matrix.Exclusion([.state: "fresh", .l2CacheSize: "64K"])])
        // 4 qcow2 cells (the exclusion names a state not on the axis) + null + raw.
        #expect(m.cells().map(\.kind) == [.null, .raw, .qcow2, .qcow2, .qcow2, .qcow2])
    }

    @Test func defaultsWhenSectionsAreOmitted() throws {
        let m = try Fixtures.parse(Fixtures.minimal)
        #expect(m.workload == Workload())
        #expect(m.repetitions == 3)
        #expect(m.seed == 1)
        #expect(m.diskSizes == [.gib(16)])
        #expect(m.clusterSizes == [.kib(64)])
        #expect(m.states == [.preallocated])
        #expect(m.refcountBits == [16])
        #expect(m.l2CacheSizes == [.default])
        #expect(m.cacheCleanIntervals == [.default])
        #expect(m.hostCaches == ["none"])
        #expect(m.hostAios == ["native"])
        #expect(!m.includeNull && !m.includeRaw)
        #expect(m.excludes.isEmpty)
        #expect(m.cells().count == 1)
    }

    @Test func nameDefaultsToFileBaseName() throws {
        #expect(try Matrix.parse(toml: "", source: "Benchmarks/nightly.toml").name == "nightly")
        #expect(try Matrix.parse(toml: "", source: "<embedded default>").name == "matrix")
    }

    @Test func scalarAxisIsAOneElementList() throws {
        let m = try Fixtures.parse(
            """
            [image]
            disk_size = "4G"
            state = "fresh"
            refcount_bits = 64
            [cache]
            l2_cache_size = "1M"
            [host]
            aio = "threads"
            """)
        #expect(m.diskSizes == [.gib(4)])
        #expect(m.states == [.fresh])
        #expect(m.refcountBits == [64])
        #expect(m.l2CacheSizes == [.value(.mib(1))])
        #expect(m.hostAios == ["threads"])
    }

    @Test func alternativeSpellings() throws {
        let m = try Fixtures.parse(
            """
            [workload]
            block_size = 8192
            ramp = 0
            runtime = 30
            span = "2G"
            seed = 42
            [image]
            cluster_size = [65536, "2M"]
            [cache]
            l2_cache_size = ["default", 1048576, "4MiB"]
            cache_clean_interval = [0, "5s", "30", "default"]
            """)
        #expect(m.workload.blockSize == .kib(8))
        #expect(m.workload.ramp == TimeSpan(milliseconds: 0))
        #expect(m.workload.runtime == .seconds(30))
        #expect(m.workload.span == .bytes(.gib(2)))
        #expect(m.seed == 42)
        #expect(m.clusterSizes == [.kib(64), .mib(2)])
        #expect(m.l2CacheSizes == [.default, .value(.mib(1)), .value(.mib(4))])
        #expect(m.cacheCleanIntervals == [.value(0), .value(5), .value(30), .default])
    }

    @Test func cartesianProduct() throws {
        let m = try Fixtures.parse(
            """
            [image]
            disk_size = ["4G", "16G"]
            state = ["preallocated", "fresh"]
            [cache]
            l2_cache_size = ["64K", "256K", "1M"]
            refcount_cache_size = ["default", "1M"]
            [host]
            cache = ["none", "directsync"]
            """)
        let cells = m.cells()
        #expect(cells.count == 2 * 2 * 3 * 2 * 2)
        #expect(Set(cells).count == cells.count)
        #expect(m.runCount == cells.count * 3)
    }

    @Test func cellOrderFollowsAxisOrder() throws {
        let m = try Fixtures.parse(
            """
            [image]
            disk_size = ["16G", "4G"]
            [cache]
            l2_cache_size = ["1M", "64K"]
            """)
        let order = m.cells().map { "\($0.geometry.diskSize)/\($0.cache.l2CacheSize)" }
        #expect(order == ["16G/1M", "16G/64K", "4G/1M", "4G/64K"])
        #expect(m.cells() == m.cells())
        let first = try #require(m.cells().first)
        #expect(first.kind == .qcow2)
        #expect(first.state == .preallocated)
        #expect(first.hostIO == HostIO(cache: "none", aio: "native"))
        #expect(first.workload == m.workload)
    }

    @Test func exclusionDropsMatchingCells() throws {
        let m = try Fixtures.parse(
            """
            [image]
            state = ["preallocated", "fresh"]
            [cache]
            l2_cache_size = ["64K", "256K", "1M", "default"]
            [[exclude]]
            state = "fresh"
            l2_cache_size = "65536"     # same as 64K
            [[exclude]]
            l2_cache_size = "default"
            """)
        let cells = m.cells()
        #expect(cells.count == 2 * 4 - 1 - 2)
        #expect(!cells.contains { $0.state == .fresh && $0.cache.l2CacheSize == .value(.kib(64)) })
        #expect(cells.contains { $0.state == .preallocated && $0.cache.l2CacheSize == .value(.kib(64)) })
        #expect(!cells.contains { $0.cache.l2CacheSize == .default })
    }

    @Test func exclusionAsInlineTable() throws {
        let m = try Fixtures.parse(
            """
            exclude = { l2_cache_size = "64K" }
            [cache]
            l2_cache_size = ["64K", "1M"]
            """)
        #expect(m.cells().map(\.cache.l2CacheSize) == [.value(.mib(1))])
    }

    @Test func exclusionCanDropACombinationQemuWouldRefuse() throws {
        let m = try Fixtures.parse(
            """
            [host]
            cache = ["none", "writeback"]
            aio = ["native", "threads"]
            [reference]
            raw = true
            [[exclude]]
            cache = "writeback"
            aio = "native"
            """)
        let pairs = m.cells().map { "\($0.kind.rawValue):\($0.hostIO.cache)/\($0.hostIO.aio)" }
        #expect(
            pairs == [
                "raw:none/native", "raw:none/threads", "raw:writeback/threads",
                "qcow2:none/native", "qcow2:none/threads", "qcow2:writeback/threads",
            ])
    }

    @Test func referenceCells() throws {
        let m = try Fixtures.parse(
            """
            [image]
            disk_size = ["4G", "16G"]
            cluster_size = ["64K", "128K"]
            [cache]
            l2_cache_size = ["512K", "2M"]
            [host]
            aio = ["native", "io_uring"]
            [reference]
            null = true
            raw = true
            """)
        let cells = m.cells()
        let null = cells.filter { $0.kind == .null }
        let raw = cells.filter { $0.kind == .raw }
        #expect(null.map(\.geometry.diskSize) == [.gib(4), .gib(16)])
        #expect(raw.map { "\($0.geometry.diskSize)/\($0.hostIO.aio)" } == ["4G/native", "4G/io_uring", "16G/native", "16G/io_uring"])
        // Reference cells come first, nulls before raws, and carry no image state.
        #expect(cells.prefix(6).map(\.kind) == [.null, .null, .raw, .raw, .raw, .raw])
        #expect(cells.dropFirst(6).allSatisfy { $0.kind == .qcow2 })
        #expect(null.allSatisfy { $0.state == nil && $0.cache.isAllDefault && $0.workload == m.workload })
        #expect(raw.allSatisfy { $0.state == nil && $0.effectiveCache == nil })
        #expect(cells.count == 2 + 4 + 2 * 2 * 2 * 2)
    }

    @Test func referenceCellsFollowRemainingDiskSizes() throws {
        let m = try Fixtures.parse(
            """
            [image]
            disk_size = ["4G", "16G"]
            [reference]
            null = true
            [[exclude]]
            disk_size = "4G"
            """)
        #expect(m.cells().filter { $0.kind == .null }.map(\.geometry.diskSize) == [.gib(16)])
    }

    @Test func overrideReplacesWorkloadSettings() throws {
        var m = try Fixtures.parse(Fixtures.fullExample)
        let before = m.hash
        m.override(runtime: .seconds(2), ramp: nil, repetitions: 1)
        #expect(m.workload.runtime == .seconds(2))
        #expect(m.workload.ramp == .seconds(2))
        #expect(m.repetitions == 1)
        #expect(m.hash != before)
        m.override(runtime: nil, ramp: TimeSpan(milliseconds: 500), repetitions: nil)
        #expect(m.workload.ramp == TimeSpan(milliseconds: 500))
        #expect(m.workload.runtime == .seconds(2))
        #expect(m.repetitions == 1)
    }

    @Test func loadReadsAFile() throws {
        let path = "/tmp/benchspec-load-\(UInt64.random(in: 0...UInt64.max)).toml"
        try writeFile(Fixtures.fullExample, to: path)
        defer { removeFile(path) }
        let m = try Matrix.load(path: path)
        #expect(m.source == path)
        #expect(m == (try Matrix.parse(toml: Fixtures.fullExample, source: path)))
    }

    @Test func loadReportsUnreadableFiles() {
        #expect(throws: MatrixError(source: "/nonexistent/x.toml", reason: .unreadable("no such file"))) {
            try Matrix.load(path: "/nonexistent/x.toml")
        }
        #expect(
            loadError("/tmp") == "/tmp: cannot read matrix file: is a directory, not a TOML file")
        #expect(
            loadError("/nonexistent/x.toml") == "/nonexistent/x.toml: cannot read matrix file: no such file")
    }

    private func loadError(_ path: String) -> String? {
        do {
            _ = try Matrix.load(path: path)
            return nil
        } catch {
            return error.description
        }
    }
}
