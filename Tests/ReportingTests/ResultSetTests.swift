import BenchResults
import BenchSpec
import GuestWire
import Qcow2Geometry
import Testing

@testable import Reporting

@Suite("Grouping and knee")
struct ResultSetTests {
    let set = Fixture.set

    @Test("one summary per cell, runs and failures counted")
    func grouping() throws {
        #expect(set.cells.count == Fixture.plans.count)
        #expect(set.records.count == Fixture.plans.reduce(0) { $0 + $1.iops.count })
        let c512 = try #require(Fixture.cell(Fixture.qcow2(l2: .value(.kib(512))).id))
        #expect(c512.runs == 3 && c512.failedRuns == 1 && c512.iops?.count == 2)
        #expect(c512.iops?.mean == 14_555)
        let never = try #require(Fixture.cell(Fixture.qcow2(.fresh, l2: .value(.kib(128))).id))
        #expect(never.iops == nil && never.failedRuns == 1 && never.latencyP99Us == nil)
        #expect(never.effective != nil)
        #expect(set.failures.map(\.reason) == [
            "no reason recorded",
            "guest gave no result within 60s, last console line: \"Kernel panic - not syncing\"",
        ])
        // Records are sorted by sequence whatever order they arrive in.
        #expect(set.records.map(\.sequence) == Array(0..<set.records.count))
        #expect(ResultSet(records: Fixture.records.reversed()) == set)
    }

    @Test("sort order: null, raw, then qcow2 by state, cluster, disk, coverage, ID")
    func order() {
        let kinds = set.cells.map(\.kind)
        #expect(Array(kinds.prefix(2)) == [.null, .raw])
        let qcow2 = set.cells.dropFirst(2)
        #expect(qcow2.allSatisfy { $0.kind == .qcow2 })
        let states = qcow2.map { $0.cell.state }
        #expect(states == states.sorted { ($0 == .preallocated ? 0 : 1) < ($1 == .preallocated ? 0 : 1) })
        let pre = qcow2.filter { $0.cell.state == .preallocated }.map { $0.effective?.l2CoveragePercent ?? -1 }
        #expect(pre == pre.sorted())
        #expect(pre.first == 6.25)
    }

    @Test("relative columns use the null ceiling, the raw cell and the best qcow2 cell")
    func relatives() throws {
        let null = try #require(set.cells.first)
        let raw = try #require(set.cells.dropFirst().first)
        #expect(null.vsCeilingPercent == nil && null.vsBestPercent == nil)
        let nullMean = try #require(null.iops?.mean)
        let rawMean = try #require(raw.iops?.mean)
        #expect(raw.vsCeilingPercent == rawMean / nullMean * 100)
        #expect(raw.vsRawPercent == nil)
        let c1m = try #require(Fixture.cell(Fixture.qcow2(l2: .value(.mib(1))).id))
        let mean = try #require(c1m.iops?.mean)
        #expect(c1m.vsCeilingPercent == mean / nullMean * 100)
        #expect(c1m.vsRawPercent == mean / rawMean * 100)
        // Best qcow2 cell of this disk/workload/host I/O: l2=default, mean 18093.33.
        let best = try #require(Fixture.cell(Fixture.qcow2(l2: .default).id))
        #expect(best.vsBestPercent == 100)
        #expect(abs((c1m.vsBestPercent ?? 0) - mean / 18_093.333_333 * 100) < 1e-6)
    }

    @Test("series: cells that differ only in l2-cache-size")
    func series() {
        #expect(set.series.count == 3)
        #expect(set.series.map { set.cells(in: $0).count } == [6, 3, 3])
        #expect(set.series.first?.label == "preallocated, 16G disk, 64K clusters")
        #expect(set.series.dropFirst().first?.label == "preallocated, 16G disk, 64K clusters, entry 64K")
        #expect(set.series.last?.state == .fresh)
    }

    @Test("knee: smallest effective L2 within 5% of the series best")
    func knee() throws {
        let knees = set.knees()
        #expect(knees.count == 3)
        // Series 1: best is l2=default (18093); 1M (17623 = 97.4%) qualifies, 512K (14555) does not.
        let k1 = try #require(knees.first)
        #expect(k1.cell.cellID == Fixture.qcow2(l2: .value(.mib(1))).id)
        #expect(k1.best.cellID == Fixture.qcow2(l2: .default).id)
        #expect(k1.percentOfBest > 95 && k1.percentOfBest < 100)
        #expect(k1.measuredCells == 6)
        // Series 2 (entry pinned): 1M reaches only 90%, so the knee is full coverage.
        let k2 = try #require(knees.dropFirst().first)
        #expect(k2.cell.cellID == Fixture.qcow2(l2: .value(.mib(2)), entry: .value(.kib(64))).id)
        // Series 3: the failed cell is ignored.
        let k3 = try #require(knees.last)
        #expect(k3.cell.cellID == Fixture.qcow2(.fresh, l2: .value(.mib(2))).id)
        #expect(k3.measuredCells == 2)
    }

    @Test("knee tolerance: 0 picks the best; a wide one picks the smallest cache")
    func kneeTolerance() throws {
        let s1 = try #require(set.series.first)
        #expect(set.knee(of: s1, tolerance: 0)?.cell.cellID == Fixture.qcow2(l2: .default).id)
        #expect(set.knee(of: s1, tolerance: 0.5)?.cell.cellID == Fixture.qcow2(l2: .value(.kib(128))).id)
    }

    @Test("equal effective caches: the knee is the one with the smaller ID, deterministically")
    func kneeTie() throws {
        // l2=2M and l2=default build the same 2 MiB cache; with equal means the
        // tie goes to the smaller cell ID.
        let a = Fixture.qcow2(l2: .value(.mib(2)))
        let b = Fixture.qcow2(l2: .default)
        let records = [a, b].enumerated().map { i, cell in
            RunRecord(
                cell: cell, repetition: 1, sequence: i, status: .ok, result: Fixture.result(1000, p50: 1, p99: 2),
                provenance: Fixture.provenance, prepSeconds: 0, wallSeconds: 1)
        }
        let set = ResultSet(records: records)
        let series = try #require(set.series.first)
        #expect(set.knee(of: series)?.cell.cellID == min(a.id, b.id))
    }

    @Test("no records: empty set, no knees, reports still render")
    func empty() {
        let set = ResultSet(records: [])
        #expect(set.cells.isEmpty && set.series.isEmpty && set.knees().isEmpty)
        #expect(cellsCSV(set) == cellsCSVColumns.joined(separator: ",") + "\n")
        #expect(markdownReport(set).contains("No run records"))
        #expect(coverageSVG(set).contains("No successful runs to plot"))
    }
}

/// A sweep of QEMU's combined `cache-size` (what libvirt's `max_size` sets):
/// its own series, a knee expressed as `cache-size`, and the budget itself
/// as libvirt's `max_size`.
@Suite struct CacheSizeSeriesTests {
    static func cell(_ combined: ByteSize) -> Cell {
        Cell(
            geometry: ImageGeometry(diskSize: .gib(16), clusterSize: .kib(64)),
            cache: CacheConfig(cacheSize: .value(combined)))
    }

    static let set: ResultSet = {
        // 1M: 768K of L2 (37.5%); 2304K: full coverage + 4 refcount clusters; 4M: full + 2M refcount.
        let plan: [(ByteSize, [Double])] = [(.mib(1), [15000, 15100]), (.kib(2304), [18000, 18050]), (.mib(4), [18100, 18150])]
        var records: [RunRecord] = []
        for (i, (size, runs)) in plan.enumerated() {
            for (rep, iops) in runs.enumerated() {
                records.append(
                    RunRecord(
                        cell: cell(size), repetition: rep + 1, sequence: i * 2 + rep, status: .ok,
                        result: Fixture.result(iops, p50: 1000, p99: 3000), provenance: Fixture.provenance,
                        prepSeconds: 0, wallSeconds: 10))
            }
        }
        return ResultSet(records: records)
    }()

    @Test func formsOneSeriesLabelledAsSuch() throws {
        #expect(Self.set.series.count == 1)
        #expect(try #require(Self.set.series.first).label.hasSuffix("sized by cache-size"))
    }

    @Test func kneeIsAppliedThroughCacheSize() {
        let md = markdownReport(Self.set)
        #expect(md.contains("-drive file=IMAGE.qcow2,format=qcow2,if=virtio,cache-size=2359296\n"), "\(md)")
        #expect(md.contains("<max_size unit='bytes'>2359296</max_size>"))
        #expect(!md.contains("l2-cache-size=2097152"))
    }

    @Test func aSeriesOfOnePointIsNotCalledAKnee() {
        let one = ResultSet(records: Array(Self.set.records.prefix(1)))
        let md = markdownReport(one)
        // A single point has no knee and no recommendation block (issue 13).
        #expect(!md.contains("**Knee"), "\(md)")
        #expect(!md.contains("**Apply it"))
        #expect(md.contains("### All cells"))
    }

    @Test func csvCarriesTheBudgetAndQemusSplit() {
        let rows = cellsCSV(Self.set).split(separator: "\n").dropFirst()
        let small = rows.first { $0.contains("cs=1M") }
        // eff L2 768K with 4K entries, eff refcount 256K, cache_size last.
        let column = cellsCSVColumns.firstIndex(of: "cache_size") ?? -1
        #expect(small.map { $0.split(separator: ",", omittingEmptySubsequences: false)[column] } == "1048576", "\(small ?? "")")
        #expect(small?.contains(",786432,4096,262144,600,") == true, "\(small ?? "")")
    }
}

/// Each knob table says what its cells share, naming every other non-default
/// setting (two tables of one knob must not read the same).
@Suite struct KnobGroupLabelTests {
    let cell = Cell(
        kind: .qcow2, state: .fresh, geometry: ImageGeometry(diskSize: .gib(64)),
        cache: CacheConfig(l2CacheSize: .value(.mib(8)), refcountCacheSize: .value(.mib(4)), cacheCleanInterval: .value(0)))

    func knob(_ option: String) throws -> Knob { try #require(Knob.all.first { $0.option == option }) }

    @Test func imageStateTablesNameTheRefcountSettingNotTheState() throws {
        #expect(try knob("image state").groupLabel(cell) == "64G disk, 64K clusters, L2 setting 8M, refcount cache 4M, clean interval 0 s")
    }

    @Test func refcountTablesNameTheStateNotTheRefcountSetting() throws {
        #expect(try knob("refcount-cache-size").groupLabel(cell) == "64G disk, 64K clusters, fresh, L2 setting 8M, clean interval 0 s")
    }
}
