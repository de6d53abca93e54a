import BenchResults
import BenchSpec
import Foundation
import Testing

@testable import Reporting

@Suite("Steal effect")
struct StealEffectTests {
    static func slot(_ cell: Cell, block: Int, disk: Int, iops: Double, steal: Double) -> RunRecord {
        var r = PairedRatioTests.slot(cell, block: block, disk: disk, iops: iops)
        r.slot?.host?.stealPercent = steal
        return r
    }

    @Test func recoversAKnownSlopeWithinCells() throws {
        // Two cells at different levels; every point of steal costs 3% exactly,
        // plus a small steal-independent wobble.
        let a = Fixture.qcow2(l2: .value(.kib(128)))
        let b = Fixture.qcow2(l2: .value(.mib(2)))
        let steals = [0.0, 2, 5, 1, 8, 3, 0.5, 6]
        let wobble = [0.01, -0.01, 0.005, -0.005, 0.0, 0.01, -0.01, 0.0]
        var records: [RunRecord] = []
        for (i, s) in steals.enumerated() {
            records.append(Self.slot(a, block: i + 1, disk: 0, iops: 5000 * exp(log(0.97) * s + wobble[i]), steal: s))
            records.append(Self.slot(b, block: i + 1, disk: 1, iops: 20000 * exp(log(0.97) * s - wobble[i]), steal: s))
        }
        let e = try #require(StealEffect(records: records))
        #expect(abs(e.perPoint - -0.03) < 0.002)
        #expect(e.perPointLow < -0.03 && e.perPointHigh > -0.03)
        #expect(e.rSquared > 0.95)
        #expect(e.slots == 16)
        #expect(e.isMeasurable && e.sentence.contains("-3.0%"))
    }

    @Test func noEffectWhenIOPSIgnoresSteal() throws {
        let a = Fixture.qcow2(l2: .value(.kib(128)))
        let steals = [0.0, 2, 5, 1, 8, 3]
        let iops = [5000.0, 5100, 4900, 5050, 4950, 5000]
        let records = steals.indices.map { Self.slot(a, block: $0 + 1, disk: 0, iops: iops[$0], steal: steals[$0]) }
        let e = try #require(StealEffect(records: records))
        #expect(e.perPointLow < 0 && e.perPointHigh > 0)
        #expect(e.rSquared < 0.5)
        #expect(!e.isMeasurable && e.sentence.contains("no measurable effect"))
        // No variation in steal: nothing to say.
        #expect(StealEffect(records: steals.indices.map { Self.slot(a, block: $0 + 1, disk: 0, iops: iops[$0], steal: 0) }) == nil)
    }
}

@Suite("Steal-adjusted paired ratios")
struct StealAdjustedRatioTests {
    @Test func adjustmentRemovesStealButKeepsTheRatio() throws {
        // The small cache is exactly half the large one; steal differs per slot
        // and costs 4% a point, so measured per-block ratios scatter.
        let small = Fixture.qcow2(l2: .value(.kib(128)))
        let large = Fixture.qcow2(l2: .value(.mib(2)))
        let stealSmall = [0.0, 6, 1, 9, 2, 7, 0.5, 5]
        let stealLarge = [5.0, 0, 8, 1, 6, 0, 4, 1]
        var records: [RunRecord] = []
        for b in stealSmall.indices {
            let wobble = b % 2 == 0 ? 0.005 : -0.005
            records.append(
                StealEffectTests.slot(small, block: b + 1, disk: 0, iops: 5000 * exp(log(0.96) * stealSmall[b] + wobble), steal: stealSmall[b]))
            records.append(StealEffectTests.slot(large, block: b + 1, disk: 1, iops: 10000 * exp(log(0.96) * stealLarge[b]), steal: stealLarge[b]))
        }
        let p = PairedAnalysis(records: records)
        let measured = try #require(p.vsReference[small.id])
        let adjusted = try #require(p.stealAdjustedVsReference[small.id])
        #expect(measured.halfWidth > 0.1)
        #expect(adjusted.halfWidth < 0.02)
        #expect(abs(adjusted.ratio - 0.5) < 0.01)
        // Without steal there is nothing to adjust.
        let quiet = records.map {
            var r = $0; r.slot?.host?.stealPercent = 0; return r
        }
        #expect(PairedAnalysis(records: quiet).stealAdjustedVsReference.isEmpty)
    }
}
