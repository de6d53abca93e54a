import BenchResults
import BenchSpec
import Foundation

extension ResultSet {
    /// The QEMU builds (`Cell.build`) these records ran, in the order of
    /// their first record.
    public var buildNames: [String] {
        var out: [String] = []
        for r in records where !out.contains(r.cell.build) { out.append(r.cell.build) }
        return out
    }

    /// The records of build `name`, their cells named without the build
    /// (`Cell.baseID`), so that another build's records of the same
    /// configuration match them. Provenance keeps the build.
    public func records(ofBuild name: String) -> ResultSet {
        ResultSet(records: records.filter { $0.cell.build == name }.map(Self.withoutBuild))
    }

    /// The same records with the build removed from each cell (and its ID).
    public var withoutBuilds: ResultSet { ResultSet(records: records.map(Self.withoutBuild)) }

    private static func withoutBuild(_ r: RunRecord) -> RunRecord {
        var r = r
        r.cell.qemuBuild = nil
        r.cellID = r.cell.id
        return r
    }
}

/// Why two builds of one results directory cannot be compared; one line
/// that names the option, the value and what is allowed.
public enum BuildComparisonError: Error, CustomStringConvertible, Equatable, Sendable {
    case notTwo(given: String)
    case same(name: String)
    case unknown(name: String, ran: [String])

    public var description: String {
        switch self {
        case .notTwo(let given):
            return "--builds: invalid value \"\(given)\": must be two build names, BASE,COMPARED (e.g. base,patched)"
        case .same(let name):
            return "--builds: invalid value \"\(name),\(name)\": name two different builds"
        case .unknown(let name, let ran):
            return "--builds: invalid value \"\(name)\": no record of that build; these results ran \(ran.joined(separator: ", "))"
        }
    }
}

/// `bench compare DIR --builds BASE,COMPARED`: two QEMU builds measured in
/// one run (`--qemu-build`), cell by cell. Each block booted one guest per
/// build, so a cell's IOPS under the compared build over its IOPS under the
/// base in the same block is a paired measurement; the gate is a paired t-test
/// on those per-block log ratios, and on the same ratios of writes per QEMU
/// CPU millisecond (steadier under host steal; blind to added waiting), with
/// Holm over cells x metrics. Absolute IOPS and p99
/// (Welch over the slots) are shown too; they gate cells that ran a guest per
/// run, which have no blocks to pair. Unlike between nights, null-co is gated:
/// a build that slows the I/O path without qcow2 is still slower.
public func compareBuilds(
    _ set: ResultSet, base: String, compared: String, criteria: RegressionCriteria = RegressionCriteria(), source: String
) throws(BuildComparisonError) -> Comparison {
    let ran = set.buildNames
    guard base != compared else { throw .same(name: base) }
    for name in [base, compared] where !ran.contains(name) { throw .unknown(name: name, ran: ran) }
    let logs = perBlockLogRatios(BuildComparison.perSlot(set.records) { $0.result?.iops }, base: base, compared: compared)
    let cpuLogs = perBlockLogRatios(BuildComparison.perSlot(set.records) { $0.writesPerQemuCPUMillisecond }, base: base, compared: compared)
    var c = compareSets(
        baseline: set.records(ofBuild: base), current: set.records(ofBuild: compared), criteria: criteria,
        baselineSource: "\(source) (build \(base))", currentSource: "\(source) (build \(compared))", gateControl: true,
        builds: [base, compared]
    ) { id in
        logs[id].map { buildRatioMetric($0, criteria: criteria) }
    } cpuRatio: { id in
        cpuLogs[id].map { buildRatioMetric($0, criteria: criteria, metric: .cpuRatio) }
    }
    // That the builds differ is the question, not a caveat.
    c.environmentDifferences.removeAll { $0.field == "QEMU build" || $0.field == "QEMU version" }
    return c
}

/// Per `Cell.baseID`: `log(compared / base)` of a per-slot figure (IOPS,
/// writes per CPU millisecond), block by block, over the blocks both builds
/// measured.
func perBlockLogRatios(_ figure: [String: [String: [Int: Double]]], base: String, compared: String) -> [String: [Double]] {
    var out: [String: [Double]] = [:]
    for (id, values) in figure[compared] ?? [:] {
        guard let ref = figure[base]?[id] else { continue }
        let logs = PairedRatio.logRatios(values, over: ref)
        if logs.count >= 2 { out[id] = logs }
    }
    return out
}

/// The paired test of one cell's per-block log ratios against 0; its
/// change is `exp(mean) - 1`. Means are the geometric-mean ratio (current)
/// against 1 (baseline), so the table reads as a ratio.
func buildRatioMetric(_ logs: [Double], criteria: RegressionCriteria, metric: ComparedMetric = .buildRatio) -> MetricComparison {
    let mean = SampleStats(logs)?.mean
    let change = mean.map { (exp($0) - 1) * 100 }
    guard let test = pairedTTest(logs), !test.pValue.isNaN else {
        return MetricComparison(
            metric: metric, baselineRuns: logs.count, currentRuns: logs.count, baselineMean: 1, currentMean: mean.map { exp($0) },
            changePercent: change, test: nil, statistic: nil, degreesOfFreedom: nil, pValue: nil, significant: false,
            verdict: .untested, note: "fewer than 2 blocks measured by both builds")
    }
    return MetricComparison(
        metric: metric, baselineRuns: logs.count, currentRuns: logs.count, baselineMean: 1, currentMean: mean.map { exp($0) },
        changePercent: change, test: test.method, statistic: test.statistic.isFinite ? test.statistic : nil,
        degreesOfFreedom: test.degreesOfFreedom, pValue: test.pValue, significant: test.pValue < criteria.alpha,
        verdict: .unchanged, note: nil)
}
