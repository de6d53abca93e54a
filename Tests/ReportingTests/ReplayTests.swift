import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Qcow2Geometry
import Testing

@testable import Reporting

/// Replayed nights on synthetic shared-guest records where the answer is
/// known: the noise of every slot is set, so is what the gate must see.
@Suite("Replay")
struct ReplayTests {
    static let small = Fixture.qcow2(l2: .value(.kib(256)))
    static let full = Fixture.qcow2(l2: .value(.mib(2)))

    /// `blocks` blocks of null-co (d2), 256K (d0) and 2M (d1, the series
    /// reference) in one guest. Every block has a common factor (drift, which
    /// pairing cancels) and every slot its own lognormal noise of sd `noise`.
    static func pool(blocks: Int, noise: Double, seed: UInt64 = 7) -> [RunRecord] {
        var rng = SplitMix64(seed: seed)
        func gaussian() -> Double {
            // Box–Muller from two uniforms in (0, 1].
            let u1 = (Double(rng.next() >> 11) + 1) / 9_007_199_254_740_992
            let u2 = Double(rng.next() >> 11) / 9_007_199_254_740_992
            return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        }
        var out: [RunRecord] = []
        for b in 1...blocks {
            let drift = exp(0.1 * gaussian())
            for (disk, cell, iops) in [(0, small, 9000.0), (1, full, 22000.0), (2, Fixture.null, 65000.0)] {
                var r = PairedRatioTests.slot(cell, block: b, disk: disk, iops: iops * drift * exp(noise * gaussian()))
                r.sequence = out.count
                out.append(r)
            }
        }
        return out
    }

    @Test func aLargeDropInTinyNoiseIsAlwaysFlaggedAndAANightsNever() throws {
        let records = Self.pool(blocks: 10, noise: 0.005)
        let report = try replayNights(
            records: records, options: ReplayOptions(drop: 0.20, nights: 200, seed: 3), source: "synthetic")
        #expect(report.poolBlocks == 10)
        #expect(report.blocksPerNight == 10)
        #expect(report.cells.map(\.cellID) == [Self.small.id, Self.full.id], "every gated cell, never null-co")
        for c in report.cells {
            #expect(c.flagged.count == 200, "\(c.label): \(c.flagged)")
            #expect(c.gateFailed.count == 200)
        }
        #expect(report.falseAlarms.count == 0)
        #expect(report.anyFlag.count == 0)
    }

    @Test func aSmallDropInLargeNoiseIsMostlyMissed() throws {
        // 5% against 15% slot noise over 6 blocks: the detectable change is
        // several times the drop, so the gate cannot see it.
        let records = Self.pool(blocks: 6, noise: 0.15)
        let report = try replayNights(
            records: records, options: ReplayOptions(drop: 0.05, cells: ["L2 256K"], nights: 200, seed: 3),
            source: "synthetic")
        let power = try #require(report.cells.first)
        #expect(power.cellID == Self.small.id)
        #expect(power.flagged.rate < 0.3, "\(power.flagged)")
        #expect((power.medianMinimumDetectablePercent ?? 0) > 15)
    }

    @Test func aaFalseAlarmsStayNearTheLevelWithoutAThreshold() throws {
        // No threshold: every significant move counts, so the A/A rate is the
        // test's own level (family-wise 5% under Holm), if the nights are
        // drawn right. Nights that shared blocks or were too small for their
        // pool would push it far off.
        let records = Self.pool(blocks: 30, noise: 0.05)
        for pool in ReplayPool.allCases {
            let report = try replayNights(
                records: records,
                options: ReplayOptions(
                    drop: 0.05, nights: 400, seed: 11, pool: pool,
                    criteria: RegressionCriteria(confidence: 0.95, thresholdPercent: 0)), source: "synthetic")
            #expect(report.falseAlarms.rate <= 0.10, "\(pool): \(report.falseAlarms)")
            #expect(report.falseAlarms.rate >= 0.005, "\(pool): a gate that never fires is not calibrated either")
            #expect(report.blocksPerNight == (pool == .split ? 15 : 30))
        }
    }

    @Test func theThresholdCapsPowerAtAboutAHalfForADropOfItsSize() throws {
        // Tiny noise: the estimate is the drop give or take 0.3%, so "beyond
        // 5%" is a coin toss for a 5% drop and certain for a 6% one.
        let records = Self.pool(blocks: 20, noise: 0.005)
        let at = try replayNights(
            records: records, options: ReplayOptions(drop: 0.05, cells: ["L2 256K"], nights: 200), source: "s")
        let above = try replayNights(
            records: records, options: ReplayOptions(drop: 0.06, cells: ["L2 256K"], nights: 200), source: "s")
        let rate = try #require(at.cells.first).flagged.rate
        #expect(rate > 0.2 && rate < 0.8, "\(rate)")
        #expect(try #require(above.cells.first).flagged.rate == 1)
    }

    @Test func sameSeedSameReportOtherSeedOtherNights() throws {
        let records = Self.pool(blocks: 8, noise: 0.05)
        let options = ReplayOptions(drop: 0.05, nights: 50, seed: 5, criteria: RegressionCriteria(thresholdPercent: 1))
        let a = try replayNights(records: records, options: options, source: "s")
        let b = try replayNights(records: records, options: options, source: "s")
        #expect(a == b)
        var other = options
        other.seed = 6
        let c = try replayNights(records: records, options: other, source: "s")
        #expect(c.seed == 6)
        #expect(a.cells.map(\.flagged) != c.cells.map(\.flagged) || a.falseAlarms != c.falseAlarms)
    }

    @Test func syntheticNightsRenumberRepeatedBlocksAndDropOneCell() throws {
        let blocks = pairedBlocks(Self.pool(blocks: 3, noise: 0.01))
        #expect(blocks.count == 3)
        #expect(blocks.allSatisfy { $0.count == 3 })
        let night = syntheticNight([blocks[1], blocks[1], blocks[2]], dropped: Self.small.id, factor: 0.5)
        #expect(night.map(\.repetition) == [1, 1, 1, 2, 2, 2, 3, 3, 3])
        #expect(night.compactMap { $0.slot?.block } == [1, 1, 1, 2, 2, 2, 3, 3, 3])
        #expect(night.map(\.sequence) == Array(0..<9))
        let original = try #require(blocks[1].first { $0.cellID == Self.small.id }?.result?.iops)
        #expect(night.first { $0.cellID == Self.small.id }?.result?.iops == original * 0.5)
        let fullBefore = blocks[1].first { $0.cellID == Self.full.id }?.result?.iops
        #expect(night.first { $0.cellID == Self.full.id }?.result?.iops == fullBefore)
        // Two blocks drawn alike are two blocks to the gate.
        #expect(ResultSet(records: night).paired.logRatiosVsReference[Self.small.id]?.count == 3)
    }

    @Test func badInputIsRefusedWithTheReason() throws {
        let records = Self.pool(blocks: 6, noise: 0.05)
        #expect(throws: ReplayError.blocksBeyondHalf(requested: 4, half: 3, poolBlocks: 6)) {
            try replayNights(records: records, options: ReplayOptions(blocks: 4, pool: .split), source: "s")
        }
        #expect(throws: ReplayError.self) {
            try replayNights(records: records, options: ReplayOptions(cells: ["L2 9M"]), source: "s")
        }
        do {
            _ = try replayNights(records: records, options: ReplayOptions(cells: ["null-co"]), source: "s")
            Issue.record("null-co accepted")
        } catch {
            #expect(error.description.hasPrefix("--cell: invalid value \"null-co\": the gate never flags it (the null-co control"))
        }
        let unpaired = records.map { r -> RunRecord in
            var r = r
            r.slot = nil
            return r
        }
        #expect(throws: ReplayError.noPairedRecords(source: "s")) {
            try replayNights(records: unpaired, options: ReplayOptions(), source: "s")
        }
        #expect(throws: ReplayError.tooFewBlocks(source: "s", blocks: 3, needed: 4, pool: .split)) {
            try replayNights(records: Self.pool(blocks: 3, noise: 0.05), options: ReplayOptions(pool: .split), source: "s")
        }
    }

    @Test func wilsonIntervalsMatchTheirFormula() {
        let none = Proportion(count: 0, trials: 20)
        #expect(none.rate == 0 && none.low == 0)
        #expect(abs(none.high - 0.16113) < 1e-4)
        let half = Proportion(count: 10, trials: 20)
        #expect(abs(half.low - 0.29929) < 1e-4 && abs(half.high - 0.70071) < 1e-4)
        let all = Proportion(count: 50, trials: 50)
        #expect(all.high == 1 && abs(all.low - 0.92865) < 1e-4)
    }

    @Test func markdownStatesTargetsAndTheThresholdCaveat() throws {
        let records = Self.pool(blocks: 6, noise: 0.05)
        let report = try replayNights(records: records, options: ReplayOptions(nights: 20), source: "dir")
        let md = replayMarkdown(report)
        #expect(md.hasPrefix("# Replay of the nightly gate on `dir`\n"))
        #expect(md.contains("| A/A night fails the gate (false alarm) |"))
        #expect(md.contains("| 5.0% drop of `L2 256K` flagged (power) |"))
        #expect(md.contains("≥ 80%"))
        #expect(md.contains("a drop of exactly that size does in about half the nights"))
    }

    @Test func aCostlierWriteIsSeenByTheCPURatioAndAddedWaitingIsNot() throws {
        // Slot noise in IOPS only (as steal makes it): QEMU's CPU time per
        // write is exact, so a 5% costlier write is flagged every night,
        // while 5% of added waiting must get through 15% IOPS noise.
        var records = Self.pool(blocks: 8, noise: 0.15)
        for i in records.indices {
            let ops = Double(records[i].result?.ops ?? 0)
            let cost = records[i].cellID == Self.small.id ? 0.1 : 0.05
            records[i].slot?.host?.qemuVcpuMillis = ops * cost
        }
        let cpu = try replayNights(
            records: records, options: ReplayOptions(
                drop: 0.05, cells: ["L2 256K"], nights: 100, seed: 3, criteria: RegressionCriteria(thresholdPercent: 2), regression: .cpu),
            source: "synthetic")
        let wait = try replayNights(
            records: records, options: ReplayOptions(
                drop: 0.05, cells: ["L2 256K"], nights: 100, seed: 3, criteria: RegressionCriteria(thresholdPercent: 2), regression: .wait),
            source: "synthetic")
        #expect(cpu.cells.first?.flagged.count == 100, "\(cpu.cells)")
        #expect((wait.cells.first?.flagged.rate ?? 1) < 0.3, "\(wait.cells)")
        #expect(cpu.falseAlarms.count == 0)
        #expect(replayMarkdown(cpu).contains("a costlier write"))
        #expect(replayMarkdown(wait).contains("added waiting"))
    }
}
