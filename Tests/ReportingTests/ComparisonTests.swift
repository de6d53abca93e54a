import BenchResults
import BenchSpec
import Foundation
import Qcow2Geometry
import Testing

@testable import Reporting

@Suite("Baseline comparison")
struct ComparisonTests {
    let a = Runs.cell(.kib(256))
    let b = Runs.cell(.mib(1))
    let c = Runs.cell(.mib(2))

    func compare(
        _ baseline: [Runs.Plan], _ current: [Runs.Plan], criteria: RegressionCriteria = RegressionCriteria()
    ) -> Comparison {
        compareResults(baseline: Runs.set(baseline), current: Runs.set(current), criteria: criteria)
    }

    @Test("a 10% drop with tight runs is a regression, of IOPS and of p99")
    func tightDropFlagged() throws {
        let r = compare(
            [.init(cell: a, iops: Runs.tight)], [.init(cell: a, iops: [16250, 16370, 16180, 16300, 16220])])
        let cell = try #require(r.cells.first)
        #expect(cell.verdict == .regression)
        #expect(cell.iops.verdict == .regression)
        #expect(cell.iops.test == .welch)
        #expect(try #require(cell.iops.pValue) < 1e-6)
        #expect(abs(try #require(cell.iops.changePercent) + 9.99) < 0.01)
        #expect(cell.latencyP99.verdict == .regression, "p99 rises as IOPS fall")
        #expect(r.hasRegression)
        #expect(r.regressions.map(\.cellID) == [a.id])
    }

    @Test("a 10% drop inside wide noise is not flagged")
    func noisyDropNotFlagged() throws {
        let baseline: [Double] = [18000, 15000, 21000, 17000, 19500]
        let r = compare([.init(cell: a, iops: baseline)], [.init(cell: a, iops: Runs.scaled(baseline, 0.9).reversed())])
        let cell = try #require(r.cells.first)
        #expect(abs(try #require(cell.iops.changePercent) + 10) < 1e-9)
        #expect(try #require(cell.iops.pValue) > 0.05)
        #expect(cell.iops.verdict == .unchanged)
        #expect(cell.iops.note?.contains("not significant") == true)
        #expect(cell.verdict == .unchanged)
        #expect(!r.hasRegression)
    }

    @Test("a significant 2% drop stays below the 5% threshold")
    func smallDropBelowThreshold() throws {
        let r = compare([.init(cell: a, iops: Runs.tight)], [.init(cell: a, iops: [17690, 17800, 17650, 17760, 17700])])
        let cell = try #require(r.cells.first)
        #expect(cell.iops.significant)
        #expect(abs(try #require(cell.iops.changePercent) + 2) < 0.1)
        #expect(cell.iops.verdict == .unchanged)
        #expect(cell.iops.note == "significant, but within ±5.0%")
        #expect(!r.hasRegression)
        // A 1% threshold makes the same change a regression.
        let strict = compare(
            [.init(cell: a, iops: Runs.tight)], [.init(cell: a, iops: [17690, 17800, 17650, 17760, 17700])],
            criteria: RegressionCriteria(thresholdPercent: 1))
        #expect(strict.hasRegression)
    }

    @Test("a 10% gain is an improvement, never a regression")
    func improvement() throws {
        let r = compare([.init(cell: a, iops: Runs.tight)], [.init(cell: a, iops: Runs.scaled(Runs.tight, 1.1))])
        let cell = try #require(r.cells.first)
        #expect(cell.verdict == .improvement)
        #expect(cell.iops.verdict == .improvement && cell.latencyP99.verdict == .improvement)
        #expect(!r.hasRegression)
    }

    @Test("p99 latency alone can regress")
    func latencyRegression() throws {
        let r = compare(
            [.init(cell: a, iops: Runs.tight, p99: [2000, 2010, 1990, 2005, 1995])],
            [.init(cell: a, iops: Runs.tight, p99: [2400, 2420, 2390, 2410, 2395])])
        let cell = try #require(r.cells.first)
        #expect(cell.iops.verdict == .unchanged)
        #expect(cell.latencyP99.verdict == .regression)
        #expect(cell.verdict == .regression)
        #expect(abs(try #require(cell.latencyP99.changePercent) - 20.15) < 0.01)
    }

    @Test("one run on a side: no test, never flagged, and said so")
    func singleRunNeverFlagged() throws {
        let r = compare([.init(cell: a, iops: Runs.tight)], [.init(cell: a, iops: [9000])])
        let cell = try #require(r.cells.first)
        #expect(cell.verdict == .untested)
        #expect(cell.iops.test == nil && cell.iops.pValue == nil && !cell.iops.significant)
        #expect(cell.iops.note == "5 baseline and 1 current runs: no test is possible with a single run on a side")
        #expect(abs(try #require(cell.iops.changePercent) + 50.2) < 0.1, "the change is still shown")
        #expect(!r.hasRegression)
    }

    @Test("two runs on a side use the exact rank test, which says when it cannot reach significance")
    func twoRunsUseMannWhitney() throws {
        let baseline = [Runs.Plan(cell: a, iops: Runs.tight)]
        let current = [Runs.Plan(cell: a, iops: [14000, 14100])]
        let r = compare(baseline, current)
        let cell = try #require(r.cells.first)
        #expect(cell.iops.test == .mannWhitney)
        // 2 vs 5 runs, all current below all baseline: p = 2 / C(7, 2) = 0.0952.
        #expect(abs(try #require(cell.iops.pValue) - 2.0 / 21) < 1e-12)
        #expect(cell.iops.verdict == .unchanged)
        #expect(cell.iops.note?.contains("cannot reach 95% confidence (smallest p 0.095)") == true)
        // Holm–Bonferroni over the cell's two metrics doubles the smallest p
        // (0.19): at 90% confidence still not flagged, at 80% it is.
        #expect(!compare(baseline, current, criteria: RegressionCriteria(confidence: 0.9)).hasRegression)
        let lenient = compare(baseline, current, criteria: RegressionCriteria(confidence: 0.8))
        #expect(lenient.hasRegression)
        #expect(abs(try #require(lenient.cells.first?.iops.adjustedPValue) - 4.0 / 21) < 1e-12)
    }

    @Test("identical runs on both sides: p 1, unchanged; constant but different runs: p 0, flagged")
    func zeroSpread() throws {
        let same = compare([.init(cell: a, iops: [100, 100, 100])], [.init(cell: a, iops: [100, 100, 100])])
        #expect(same.cells.first?.iops.pValue == 1)
        #expect(same.cells.first?.verdict == .unchanged)
        let apart = compare([.init(cell: a, iops: [100, 100, 100])], [.init(cell: a, iops: [80, 80, 80])])
        #expect(apart.cells.first?.iops.pValue == 0)
        #expect(apart.cells.first?.iops.statistic == nil, "an infinite t is not stored")
        #expect(apart.hasRegression)
    }

    @Test("cells are matched by configuration; cells on one side are listed, not fatal")
    func matchedByCellID() throws {
        // Same cells in a different run order, plus one extra cell on each side.
        let d = Runs.cell(.kib(512))
        let baseline: [Runs.Plan] = [
            .init(cell: a, iops: Runs.tight), .init(cell: b, iops: Runs.scaled(Runs.tight, 0.5)), .init(cell: d, iops: Runs.tight),
        ]
        let current: [Runs.Plan] = [
            .init(cell: c, iops: Runs.tight), .init(cell: b, iops: Runs.scaled(Runs.tight, 0.5)),
            .init(cell: a, iops: Runs.tight),
        ]
        let r = compare(baseline, current)
        #expect(Set(r.cells.map(\.cellID)) == [a.id, b.id])
        #expect(r.cells.allSatisfy { $0.verdict == .unchanged })
        #expect(r.onlyInBaseline == [d.id])
        #expect(r.onlyInCurrent == [c.id])
        #expect(!r.hasRegression)
    }

    @Test("regressions come first, then improvements, unchanged, untested; each in cell order")
    func order() throws {
        let baseline: [Runs.Plan] = [
            .init(cell: a, iops: Runs.tight), .init(cell: b, iops: Runs.tight), .init(cell: c, iops: Runs.tight),
            .init(cell: Fixture.null, iops: Runs.tight),
        ]
        let current: [Runs.Plan] = [
            .init(cell: Fixture.null, iops: [18000]),
            .init(cell: a, iops: Runs.tight),
            .init(cell: b, iops: Runs.scaled(Runs.tight, 1.2)),
            .init(cell: c, iops: Runs.scaled(Runs.tight, 0.8)),
        ]
        let r = compare(baseline, current)
        #expect(r.cells.map(\.cellID) == [c.id, b.id, a.id, Fixture.null.id])
        #expect(r.cells.map(\.verdict) == [.regression, .improvement, .unchanged, .untested])
    }

    @Test("failed runs are left out of the test")
    func failedRunsIgnored() throws {
        var records = Runs.records([.init(cell: a, iops: Runs.tight)])
        records.append(
            RunRecord(
                cell: a, repetition: 6, sequence: 99, status: .failed, failure: "timeout", result: nil,
                provenance: Fixture.provenance, prepSeconds: 0, wallSeconds: 60))
        let r = compareResults(baseline: Runs.set([.init(cell: a, iops: Runs.tight)]), current: ResultSet(records: records))
        #expect(r.cells.first?.iops.currentRuns == 5)
        #expect(r.cells.first?.verdict == .unchanged)
    }

    @Test("different environments are reported; equal ones are not")
    func environmentDifferences() throws {
        let plans = [Runs.Plan(cell: a, iops: Runs.tight)]
        let same = compareResults(baseline: Runs.set(plans), current: Runs.set(plans))
        #expect(same.environmentDifferences.isEmpty)
        let other = Runs.set(plans) {
            $0.qemuVersion = "8.2.2"
            $0.accel = "kvm"
            $0.gitRevision = "fedcba987654"
        }
        let r = compareResults(baseline: Runs.set(plans), current: other)
        #expect(r.environmentDifferences.map(\.field) == ["QEMU version", "accelerator"])
        #expect(r.environmentDifferences.first?.baseline == ["7.2.0"])
        #expect(r.environmentDifferences.first?.current == ["8.2.2"])
        #expect(r.current.gitRevisions == ["fedcba987654"])
        let md = comparisonMarkdown(r)
        #expect(md.contains("**Warning: the environments differ** (QEMU version, accelerator)"))
        #expect(!comparisonMarkdown(same).contains("Warning"))
    }

    @Test("JSON round trip keeps everything, with no non-finite numbers")
    func json() throws {
        let r = compare(
            [.init(cell: a, iops: Runs.tight), .init(cell: b, iops: [100, 100, 100])],
            [.init(cell: a, iops: [16250, 16370, 16180, 16300, 16220]), .init(cell: b, iops: [80, 80, 80]), .init(cell: c, iops: [1])])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(r)
        let decoded = try JSONDecoder().decode(Comparison.self, from: data)
        #expect(decoded == r)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasPrefix("{\"baseline\":"))
        #expect(text.contains("\"verdict\":\"regression\""))
        #expect(text.contains("\"test\":\"welch\""))
        #expect(text.contains("\"schemaVersion\":1"))
    }

    @Test("Markdown: the verdict line and one row per compared cell, regressions first")
    func markdown() throws {
        let r = compare(
            [.init(cell: a, iops: Runs.tight), .init(cell: c, iops: Runs.tight)],
            [.init(cell: a, iops: Runs.tight), .init(cell: c, iops: [16250, 16370, 16180, 16300, 16220])])
        let md = comparisonMarkdown(r)
        #expect(md.contains("**Regression: 1 of 2 compared cells regressed**."))
        let rows = md.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| Verdict") }
        #expect(rows.count == 2)
        // No paired ratio here (runs in their own guests): its columns are "-", the MDE is the IOPS test's.
        #expect(rows.first?.hasPrefix("| **regression** (IOPS, p99) | `\(c.id)` | - | - | - | - | ±") == true, "\(rows)")
        #expect(rows.first?.contains("| 18,070 (n=5) | 16,264 (n=5) | -10.0% | <0.0001 (Welch) |") == true, "\(rows)")
        #expect(rows.last?.hasPrefix("| no change | `\(a.id)` |") == true)
    }

    @Test("a moving null-co ceiling is called out; a steady one is not")
    func ceilingShift() throws {
        let null = Fixture.null
        let slower = [80000.0, 80400, 79800, 80200, 80100]
        let moved = compare(
            [.init(cell: null, iops: Runs.scaled(slower, 1.1)), .init(cell: a, iops: Runs.tight)],
            [.init(cell: null, iops: slower), .init(cell: a, iops: Runs.scaled(Runs.tight, 0.9))])
        #expect(moved.ceilingShifts.map(\.cellID) == [null.id])
        let md = comparisonMarkdown(moved)
        #expect(md.contains("**The null-co ceiling moved**: `\(null.id)` -9.1% IOPS, p = <0.0001 (Welch)."), "\(md)")
        #expect(moved.hasRegression, "the gate itself is unchanged: the warning explains, it does not excuse")

        let steady = compare(
            [.init(cell: null, iops: slower), .init(cell: a, iops: Runs.tight)],
            [.init(cell: null, iops: slower), .init(cell: a, iops: Runs.scaled(Runs.tight, 0.9))])
        #expect(steady.ceilingShifts.isEmpty)
        #expect(!comparisonMarkdown(steady).contains("ceiling moved"))
    }

    @Test("comparison report snapshot")
    func snapshot() throws {
        let d = Runs.cell(.kib(512))
        let r = compareResults(
            baseline: Runs.set([
                .init(cell: Fixture.null, iops: [19010, 18875, 19220, 19105, 18950]),
                .init(cell: a, iops: [9540, 9710, 9605, 9580, 9650]),
                .init(cell: b, iops: [14480, 14630, 14550, 14700, 14590]),
                .init(cell: c, iops: Runs.tight),
                .init(cell: d, iops: [12020, 11890]),
            ]),
            current: Runs.set(
                [
                    .init(cell: Fixture.null, iops: [19100, 18990, 19150, 19020, 18900]),
                    .init(cell: a, iops: [9590, 9660, 9500, 9620, 9700]),
                    .init(cell: b, iops: [13020, 13150, 12980, 13100, 13060]),
                    .init(cell: c, iops: [18400, 18350, 18500, 18420, 18380]),
                    .init(cell: Runs.cell(.mib(4)), iops: [18100]),
                ],
                adjust: { $0.gitRevision = "fedcba987654" }),
            baselineSource: "results/baseline", currentSource: "results/nightly-1")
        try Snapshot.check(comparisonMarkdown(r), named: "compare.md")
    }
}
