import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Qcow2Geometry
import Testing

@testable import Reporting

@Suite("Paired ratios")
struct PairedRatioTests {
    @Test func geometricMeanAndTIntervalOnLogRatios() throws {
        // Ratios 0.5, 0.4, 0.45, 0.55 over four blocks.
        let a: [Int: Double] = [1: 500, 2: 400, 3: 450, 4: 550]
        let ref: [Int: Double] = [1: 1000, 2: 1000, 3: 1000, 4: 1000, 5: 1000]
        let r = try #require(PairedRatio.make(a, over: ref, referenceCellID: "ref"))
        let logs = [0.5, 0.4, 0.45, 0.55].map { log($0) }
        let mean = logs.reduce(0, +) / 4
        let sd = (logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3).squareRoot()
        let half = 3.1824 * sd / 2
        #expect(r.blocks == 4)
        #expect(abs(r.ratio - exp(mean)) < 1e-12)
        #expect(abs(r.low - exp(mean - half)) < 1e-9)
        #expect(abs(r.high - exp(mean + half)) < 1e-9)
        #expect(r.differs)
        // Blocks missing on either side are left out; one block is no interval.
        #expect(PairedRatio.make([1: 5], over: ref, referenceCellID: "ref") == nil)
    }

    @Test func identicalCellsContainOne() throws {
        let a: [Int: Double] = [1: 1010, 2: 990, 3: 1005, 4: 995]
        let b: [Int: Double] = [1: 1000, 2: 1000, 3: 1000, 4: 1000]
        let r = try #require(PairedRatio.make(a, over: b, referenceCellID: "b"))
        #expect(!r.differs)
        #expect(r.halfWidth < 0.02)
    }

    static func slot(_ cell: Cell, block: Int, disk: Int, iops: Double, cpuMillis: Double = 1000) -> RunRecord {
        let spec = cell.workload.guestSpec(diskSize: cell.geometry.diskSize, seed: 1)
        let result = GuestResult(
            driver: "native", ops: UInt64(iops * 3), seconds: 3, iops: iops, mibPerSecond: 0,
            latency: .init(meanUs: 1, p50Us: 1, p99Us: 1, p999Us: 1, maxUs: 1), perSecondOps: [], ioErrors: 0,
            firstError: nil, bootToFirstIOMillis: 0, deviceBytes: cell.geometry.diskSize.bytes, spec: spec)
        var r = RunRecord(
            cell: cell, repetition: block, sequence: block * 10 + disk, status: .ok, result: result, provenance: Fixture.provenance,
            prepSeconds: 0, wallSeconds: 3)
        r.slot = SlotInfo(
            guest: 1, group: 1, block: block, position: disk, disk: "d\(disk)", warmupMillis: 300, settled: true,
            host: HostNoise(seconds: 3, stealPercent: 0, hostBusyPercent: 50, qemuVcpuMillis: cpuMillis, qemuIothreadMillis: 0, qemuMainLoopMillis: 0, qemuOtherMillis: 0))
        return r
    }

    @Test func referenceIsTheLargestEffectiveCacheFirstInMatrixOrder() throws {
        let small = Fixture.qcow2(l2: .value(.kib(128)))
        let full = Fixture.qcow2(l2: .value(.mib(2)))
        let dflt = Fixture.qcow2(l2: .default)
        let null = Cell(kind: .null, geometry: ImageGeometry(diskSize: Fixture.disk))
        var records: [RunRecord] = []
        for b in 1...4 {
            let wobble = Double(b % 2) * 100
            records.append(Self.slot(small, block: b, disk: 0, iops: 4000 + wobble))
            records.append(Self.slot(full, block: b, disk: 1, iops: 10000 + wobble))
            records.append(Self.slot(dflt, block: b, disk: 2, iops: [10080, 9950, 10060, 9990][b - 1] + wobble))
            records.append(Self.slot(null, block: b, disk: 3, iops: 30000))
        }
        let p = PairedAnalysis(records: records)
        #expect(p.vsReference[small.id]?.referenceCellID == full.id)
        #expect(p.vsReference[dflt.id]?.referenceCellID == full.id)
        #expect(p.vsReference[full.id] == nil)
        let aa = try #require(p.vsReference[dflt.id])
        #expect(abs(aa.ratio - 1.002) < 0.002)
        #expect(!aa.differs)
        #expect(try #require(p.vsNull[full.id]).ratio < 0.35)
        #expect(p.steering[full.id] == nil)  // a reference is measured by the others' ratios
        #expect(p.widestHalfWidth != nil)
        #expect(p.slots == 16)

        let set = ResultSet(records: records)
        let csv = cellsCSV(set)
        #expect(csv.contains(",shared,4,\(full.id),0.4"))
        let md = markdownReport(set)
        #expect(md.contains("**A/A check**: L2 default and L2 2M are the same cache"))
        #expect(md.contains("the CI contains 1, as it must"))
    }

    @Test func labelsShowOnlyWhatVaries() {
        let a = Fixture.qcow2(l2: .value(.kib(128)))
        let b = Fixture.qcow2(.fresh, l2: .value(.mib(2)))
        let null = Cell(kind: .null, geometry: ImageGeometry(diskSize: Fixture.disk))
        let labels = CellLabels(cells: [a, b, null])
        #expect(labels.label(a.id) == "preallocated · L2 128K")
        #expect(labels.label(b.id) == "fresh · L2 2M")
        #expect(labels.label(null.id) == "null-co")
        #expect(labels.label("unknown") == "unknown")
    }
}

@Suite("Comparing paired ratios between nights")
struct PairedComparisonTests {
    static let small = Fixture.qcow2(l2: .value(.kib(128)))
    static let full = Fixture.qcow2(l2: .value(.mib(2)))
    static let null = Cell(kind: .null, geometry: ImageGeometry(diskSize: Fixture.disk))

    /// A night of `blocks` blocks: `speed` scales every cell (the runner),
    /// `smallRatio` is the small cache's IOPS over the full one's.
    static func night(blocks: Int = 12, speed: Double, smallRatio: Double) -> ResultSet {
        var records: [RunRecord] = []
        for b in 1...blocks {
            let noise = 1 + 0.03 * sin(Double(b) * 1.7)
            let drift = 1 + 0.1 * sin(Double(b) * 0.4)
            records.append(PairedRatioTests.slot(small, block: b, disk: 0, iops: 20000 * speed * drift * smallRatio * noise))
            records.append(PairedRatioTests.slot(full, block: b, disk: 1, iops: 20000 * speed * drift))
            records.append(PairedRatioTests.slot(null, block: b, disk: 2, iops: 60000 * speed * drift))
        }
        return ResultSet(records: records)
    }

    @Test func aSlowerRunnerIsNotARegressionButALowerRatioIs() throws {
        let baseline = Self.night(speed: 1, smallRatio: 0.5)
        let slower = compareResults(baseline: baseline, current: Self.night(speed: 0.8, smallRatio: 0.5))
        #expect(!slower.hasRegression, "\(slower.cells.map { ($0.cellID, $0.verdict) })")
        let small = try #require(slower.cells.first { $0.cellID == Self.small.id })
        #expect(small.pairedRatio != nil && small.iops.gated == false)
        #expect(slower.ceilingShifts.count == 1, "the null-co control moved with the runner")
        #expect(slower.cells.first { $0.cellID == Self.null.id }?.gated == false)

        let worse = compareResults(baseline: baseline, current: Self.night(speed: 1, smallRatio: 0.45))
        #expect(worse.hasRegression)
        let r = try #require(worse.cells.first { $0.cellID == Self.small.id }?.pairedRatio)
        #expect(abs((r.changePercent ?? 0) + 10) < 0.5)
        #expect(r.verdict == .regression)
        #expect((r.minimumDetectablePercent ?? 99) < 5, "12 blocks of 3% noise resolve well under 5%")
        #expect(r.adjustedPValue != nil)
    }

    @Test func aCellWhoseWindowChangedIsShownNotGated() throws {
        let baseline = Self.night(speed: 1, smallRatio: 0.5)
        var records = Self.night(speed: 1, smallRatio: 0.4).records
        for i in records.indices { records[i].cell.workload.runtime = .seconds(12) }
        let c = compareResults(baseline: baseline, current: ResultSet(records: records))
        #expect(!c.hasRegression)
        #expect(c.cells.allSatisfy { $0.ungatedBecause != nil })
        #expect(c.cells.first { $0.cellID == Self.small.id }?.ungatedBecause?.contains("workload differs") == true)
    }

    /// Steal takes 0–30% of each slot's wall time (IOPS), not of QEMU's CPU
    /// time per write. A write 8% costlier in the small cell hides in the
    /// IOPS ratio's noise and stands out in the CPU ratio.
    static func stolenNight(blocks: Int = 12, smallCost: Double) -> ResultSet {
        var records: [RunRecord] = []
        for b in 1...blocks {
            for (disk, cell, iops, cost) in [(0, small, 10000.0, smallCost), (1, full, 20000.0, 1.0), (2, null, 60000.0, 0.4)] {
                let stolen = 1 - 0.15 * (1 + sin(Double(b * 7 + disk * 3) * 1.3))
                let measured = iops / cost * stolen
                var r = PairedRatioTests.slot(cell, block: b, disk: disk, iops: measured)
                // QEMU CPU time: writes x cost per write (50 µs at cost 1).
                let ops = Double(r.result?.ops ?? 0)
                r.slot?.host?.qemuVcpuMillis = ops * cost * 0.05
                records.append(r)
            }
        }
        return ResultSet(records: records)
    }

    @Test func aCostlierWriteHiddenInStealIsCaughtByTheCPURatio() throws {
        let baseline = Self.stolenNight(smallCost: 1)
        let aa = compareResults(baseline: baseline, current: Self.stolenNight(smallCost: 1))
        #expect(!aa.hasRegression)
        let c = compareResults(baseline: baseline, current: Self.stolenNight(blocks: 11, smallCost: 1.08))
        let small = try #require(c.cells.first { $0.cellID == Self.small.id })
        let ratio = try #require(small.pairedRatio)
        let cpu = try #require(small.cpuRatio)
        #expect(ratio.verdict == .unchanged, "the IOPS ratio cannot resolve 8% under 30% steal: \(ratio)")
        #expect(cpu.verdict == .regression, "\(cpu)")
        #expect(abs((cpu.changePercent ?? 0) + 100 * (1 - 1 / 1.08)) < 0.5)
        #expect(c.hasRegression)
        #expect(comparisonMarkdown(c).contains("**regression** (CPU ratio)"))
        // Guest-per-run cells have no CPU ratio: only paired cells get one.
        #expect(compareResults(baseline: ResultSet(records: []), current: baseline).cells.isEmpty)
    }
}
