import Qcow2Geometry
import Testing

@testable import BenchSpec

@Suite("Cell identifiers")
struct CellIDTests {
    @Test func distinctCellsOfAWideMatrixHaveDistinctIDs() throws {
        let m = try Fixtures.parse(
            """
            [image]
            disk_size = ["1G", "16G"]
            cluster_size = ["64K", "128K"]
            state = ["preallocated", "fresh"]
            refcount_bits = [16, 64]
            [cache]
            l2_cache_size = ["1M", "default"]
            l2_cache_entry_size = ["default", "4K"]
            refcount_cache_size = ["default", "4M"]
            cache_clean_interval = ["default", 0]
            [host]
            cache = ["none", "directsync"]
            aio = ["native", "threads"]
            [reference]
            null = true
            raw = true
            """)
        let cells = m.cells()
        #expect(cells.count == 2 + 2 * 2 * 2 + 2 * 2 * 2 * 2 * 2 * 2 * 2 * 2 * 2 * 2)
        #expect(Set(cells).count == cells.count)
        #expect(Set(cells.map(\.id)).count == cells.count)
    }

    @Test func idSpellsTheCell() throws {
        let cells = try Fixtures.parse(Fixtures.fullExample).cells()
        #expect(
            cells.map(\.id) == [
                "null-16G-bs4K-qd32-span100pct",
                "raw-16G-none-native-bs4K-qd32-span100pct",
                "qcow2-preallocated-16G-c64K-l2=64K-e=default-rc=default-ci=default-none-native-bs4K-qd32-span100pct",
                "qcow2-preallocated-16G-c64K-l2=256K-e=default-rc=default-ci=default-none-native-bs4K-qd32-span100pct",
                "qcow2-preallocated-16G-c64K-l2=1M-e=default-rc=default-ci=default-none-native-bs4K-qd32-span100pct",
                "qcow2-preallocated-16G-c64K-l2=default-e=default-rc=default-ci=default-none-native-bs4K-qd32-span100pct",
            ])
    }

    @Test func nonDefaultImageOptionsAppearInTheID() {
        let base = Cell(geometry: ImageGeometry(diskSize: .gib(1)))
        var wide = base
        wide.geometry.refcountBits = 64
        var extended = base
        extended.geometry.extendedL2 = true
        #expect(Set([base.id, wide.id, extended.id]).count == 3)
        #expect(wide.id.contains("-c64K-rb64-"))
        #expect(extended.id.contains("-c64K-xl2-"))
    }

    @Test func cacheSizeAppearsOnlyWhenSet() throws {
        let base = Cell(geometry: ImageGeometry(diskSize: .gib(1)))
        var combined = base
        combined.cache.cacheSize = .value(.mib(1))
        #expect(!base.id.contains("cs="))
        #expect(combined.id.contains("-ci=default-cs=1M-none-"))
        let m = try Fixtures.parse("[cache]\ncache_size = [\"default\", \"1M\"]\n[[exclude]]\ncache_size = \"default\"")
        #expect(m.qcow2Cells().map(\.cache.cacheSize) == [.value(.mib(1))])
    }
}
