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
        #expect(e.sentence.contains("-3.0%"))
    }

    @Test func noEffectWhenIOPSIgnoresSteal() throws {
        let a = Fixture.qcow2(l2: .value(.kib(128)))
        let steals = [0.0, 2, 5, 1, 8, 3]
        let iops = [5000.0, 5100, 4900, 5050, 4950, 5000]
        let records = steals.indices.map { Self.slot(a, block: $0 + 1, disk: 0, iops: iops[$0], steal: steals[$0]) }
        let e = try #require(StealEffect(records: records))
        #expect(e.perPointLow < 0 && e.perPointHigh > 0)
        #expect(e.rSquared < 0.5)
        // No variation in steal: nothing to say.
        #expect(StealEffect(records: steals.indices.map { Self.slot(a, block: $0 + 1, disk: 0, iops: iops[$0], steal: 0) }) == nil)
    }
}
