import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Qcow2Geometry
import Testing

@testable import Reporting

@Suite("Cache counters and cost model")
struct CacheCounterTests {
    /// A traced slot: `missesPerWrite` over a 2 s window at `iops`.
    static func traced(_ cell: Cell, block: Int, disk: Int, iops: Double, missesPerWrite: Double, read: Double? = 80) -> RunRecord {
        var r = PairedRatioTests.slot(cell, block: block, disk: disk, iops: iops)
        let writes = iops * 2
        r.slot?.cache = SlotCacheCounters(
            startSeconds: 1000, endSeconds: 1002, l2Lookups: UInt64(writes), l2Misses: UInt64((missesPerWrite * writes).rounded()),
            refcountLookups: 0, refcountMisses: UInt64((0.01 * writes).rounded()), timedReads: read == nil ? 0 : 10,
            missReadMeanMicros: read, missReadP50Micros: read, missReadP99Micros: read.map { $0 * 3 })
        return r
    }

    static let sizes: [ByteSize] = [.kib(128), .kib(512), .mib(1), .mib(2)]  // 6.25%, 25%, 50%, 100% of 16G

    @Test func modelIsOneMinusCoverageOfTheSpan() throws {
        let c = Fixture.qcow2(l2: .value(.kib(512)))
        #expect(CellCacheCounters.expectedL2MissesPerWrite(c, effective: c.effectiveCache) == 0.75)
        let full = Fixture.qcow2(l2: .default)
        #expect(CellCacheCounters.expectedL2MissesPerWrite(full, effective: full.effectiveCache) == 0)
        var half = c
        half.workload.span = .percent(50)
        #expect(CellCacheCounters.expectedL2MissesPerWrite(half, effective: half.effectiveCache) == 0.5)
        var zipf = c
        zipf.workload.distribution = .zipf(thetaMillis: 1200)
        #expect(CellCacheCounters.expectedL2MissesPerWrite(zipf, effective: zipf.effectiveCache) == nil)
        #expect(CellCacheCounters.expectedL2MissesPerWrite(Fixture.null, effective: nil) == nil)
    }

    @Test func perCellMeansAndTheModelFlag() throws {
        let c = Fixture.qcow2(l2: .value(.kib(128)))
        let records = [
            Self.traced(c, block: 1, disk: 0, iops: 5000, missesPerWrite: 0.92, read: 80),
            Self.traced(c, block: 2, disk: 0, iops: 4000, missesPerWrite: 0.94, read: 100),
        ]
        let k = try #require(CellCacheCounters(records: records, cell: c, effective: c.effectiveCache))
        #expect(k.slots == 2)
        #expect(abs(k.l2MissesPerWrite - 0.93) < 1e-4)
        #expect(abs(k.refcountMissesPerWrite - 0.01) < 1e-4)
        #expect(k.missReadMicros == 90)
        #expect(abs(k.tracedIOPS - 2 / (1 / 5000.0 + 1 / 4000.0)) < 1e-6)
        #expect(k.expectedL2MissesPerWrite == 0.9375)
        #expect(!k.disagreesWithModel)
        let off = [Self.traced(c, block: 1, disk: 0, iops: 5000, missesPerWrite: 0.7)]
        #expect(try #require(CellCacheCounters(records: off, cell: c, effective: c.effectiveCache)).disagreesWithModel)
        // Untraced slots give no counters.
        #expect(CellCacheCounters(records: [PairedRatioTests.slot(c, block: 1, disk: 0, iops: 1)], cell: c, effective: nil) == nil)
    }

    @Test func linearFitRecoversAKnownLineAndItsIntervals() throws {
        // y = 40 + 80 x exactly: zero-width intervals.
        let x = [0.0, 0.5, 0.75, 0.9375]
        let exact = try #require(LinearFit(x: x, y: x.map { 40 + 80 * $0 }))
        #expect(abs(exact.intercept - 40) < 1e-9)
        #expect(abs(exact.slope - 80) < 1e-9)
        #expect(exact.slopeCI < 1e-6)
        // With noise: the textbook formulas, checked by hand.
        let xs = [0.0, 1, 2, 3, 4]
        let ys = [1.0, 3, 2, 5, 4]
        let f = try #require(LinearFit(x: xs, y: ys))
        #expect(abs(f.slope - 0.8) < 1e-12)  // Sxy = 8, Sxx = 10
        #expect(abs(f.intercept - 1.4) < 1e-12)
        // SSR = 3.6, s = sqrt(1.2), t(3) = 3.1824
        #expect(abs(f.slopeCI - 3.1824 * 1.2.squareRoot() / 10.squareRoot()) < 1e-9)
        #expect(abs(f.interceptCI - 3.1824 * 1.2.squareRoot() * (0.2 + 4.0 / 10).squareRoot()) < 1e-9)
        #expect(LinearFit(x: [1, 1, 1], y: [1, 2, 3]) == nil)
        #expect(LinearFit(x: [1, 2], y: [1, 2]) == nil)
    }

    /// Synthetic series: time per write = 40 µs + misses × 80 µs, misses = 1 - c.
    static func series(noise: Bool) -> [RunRecord] {
        var records: [RunRecord] = []
        for b in 1...4 {
            for (i, size) in sizes.enumerated() {
                let cell = Fixture.qcow2(l2: .value(size))
                let c = (cell.effectiveCache?.l2CoveragePercent ?? 0) / 100
                let m = 1 - c
                let wobble = noise ? [1.0, 1.02, 0.98, 1.01][(b + i) % 4] : 1
                records.append(Self.traced(cell, block: b, disk: i, iops: 1e6 / ((40 + 80 * m) * wobble), missesPerWrite: m))
            }
            records.append(Self.traced(Fixture.null, block: b, disk: 4, iops: 60000, missesPerWrite: 0, read: nil))
        }
        return records
    }

    @Test func costModelRecoversSyntheticT0AndTMiss() throws {
        let set = ResultSet(records: Self.series(noise: false))
        let model = try #require(costModels(set).first)
        #expect(costModels(set).count == 1)
        #expect(abs(model.t0Micros - 40) < 0.05)
        #expect(abs(model.tMissMicros - 80) < 0.2)
        #expect(model.fit.points == 16)
        #expect(abs((model.iops(coverage: 1) ?? 0) - 25_000) < 50)
        #expect(abs((model.iops(coverage: 0) ?? 0) - 1e6 / 120) < 20)

        let noisy = try #require(costModels(ResultSet(records: Self.series(noise: true))).first)
        #expect(noisy.t0Micros - noisy.fit.interceptCI < 40 && 40 < noisy.t0Micros + noisy.fit.interceptCI)
        #expect(noisy.tMissMicros - noisy.fit.slopeCI < 80 && 80 < noisy.tMissMicros + noisy.fit.slopeCI)
        #expect(noisy.fit.slopeCI > 0)
    }

    /// `bench advise --from`'s prediction: t0 / (t0 + (1 - c) t_miss), exact
    /// on an exact line, and with noise an interval that holds the truth.
    @Test func fractionOfFullCoverageFromTheModel() throws {
        let exact = try #require(costModels(ResultSet(records: Self.series(noise: false))).first)
        let half = try #require(exact.fractionOfFullCoverage(coverage: 0.5))
        #expect(abs(half.fraction - 40.0 / 80) < 1e-3)  // 40 / (40 + 0.5 * 80)
        #expect(half.high - half.low < 1e-3)
        let full = try #require(exact.fractionOfFullCoverage(coverage: 1))
        #expect(abs(full.fraction - 1) < 1e-9 && full.high - full.low < 1e-9)
        let noisy = try #require(costModels(ResultSet(records: Self.series(noise: true))).first)
        for c in [0.0, 0.25, 0.5, 0.9] {
            let f = try #require(noisy.fractionOfFullCoverage(coverage: c))
            let truth = 40 / (40 + (1 - c) * 80)
            #expect(f.low < truth && truth < f.high, "coverage \(c): \(f)")
            #expect(f.high - f.low > 0)
        }
    }

    @Test func csvAndReportShowCountersModelAndFit() throws {
        let set = ResultSet(records: Self.series(noise: false))
        let rows = CSVTests().parseCSV(cellsCSV(set))
        let header = try #require(rows.first)
        #expect(
            Array(header.suffix(6)) == [
                "l2_misses_per_write", "l2_misses_per_write_model", "refcount_misses_per_write", "miss_read_us", "model_iops", "traced_iops",
            ])
        let small = try #require(rows.first { $0.first == Fixture.qcow2(l2: .value(.kib(128))).id })
        #expect(Array(small.suffix(6)).prefix(4) == ["0.9375", "0.9375", "0.0100", "80.0"])
        // Without noise the model reproduces the traced IOPS: 1e6 / (40 + 0.9375 * 80) = 8,695.7.
        #expect(Array(small.suffix(2)) == ["8695.7", "8695.7"])
        let md = markdownReport(set)
        #expect(md.contains("## Why: L2 cache misses per write (QEMU's trace)"))
        #expect(md.contains("### Cache counters per cell (QEMU's trace)"))
        #expect(md.contains("t0 = 40.00 µs"))
        #expect(md.contains("t_miss = 80.00 µs"))
        #expect(!md.contains("**off by"))
        // No traced slot: no section, empty columns.
        let plain = ResultSet(
            records: Self.series(noise: false).map {
                var r = $0; r.slot?.cache = nil; return r
            })
        #expect(!markdownReport(plain).contains("cache misses per write"))
        #expect(missesSVG(plain) == nil && missesSVG(set) != nil)
    }

    @Test func overheadPairsTracedOddBlocksWithTheNextUntracedBlock() throws {
        let cell = Fixture.qcow2(l2: .value(.kib(128)))
        var records: [RunRecord] = []
        for b in 1...6 {
            let iops = b % 2 == 1 ? 970.0 + Double(b) : 1000.0 + Double(b)
            records.append(
                b % 2 == 1
                    ? Self.traced(cell, block: b, disk: 0, iops: iops, missesPerWrite: 0.9)
                    : PairedRatioTests.slot(cell, block: b, disk: 0, iops: iops))
        }
        let o = try #require(TraceOverhead(records: records))
        #expect(o.pooled.blocks == 3)
        #expect(o.cells == 1)
        #expect(abs(o.pooled.ratio - 0.97) < 0.002)
        #expect(o.pooled.differs)
        // Every block traced: nothing to compare.
        #expect(TraceOverhead(records: records.filter { $0.slot?.cache != nil }) == nil)
    }

    @Test func oldSlotRecordsDecodeWithoutCounters() throws {
        let old = #"{"block":1,"disk":"d0","group":1,"guest":1,"position":0,"settled":true,"warmupMillis":300}"#
        let slot = try JSONDecoder().decode(SlotInfo.self, from: Data(old.utf8))
        #expect(slot.cache == nil)
        #expect(TraceMode.alternate.traces(block: 3) && !TraceMode.alternate.traces(block: 4) && !TraceMode.off.traces(block: 1))
        #expect((1...9).filter { TraceMode.sampled.traces(block: $0) } == [2, 6])
    }
}
