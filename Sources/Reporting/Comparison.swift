import BenchResults
import BenchSpec
import GuestWire

/// When a change between a baseline and a current result set counts as real:
/// significant at `confidence` AND larger than `thresholdPercent`. The two
/// together keep nightly CI quiet on noise (significance) and on changes too
/// small to matter (threshold).
public struct RegressionCriteria: Hashable, Sendable, Codable {
    /// Confidence level of the two-sided test, in (0, 1); 0.95 flags p < 0.05.
    public var confidence: Double
    /// Smallest change of the mean, in percent of the baseline mean, that can
    /// be flagged.
    public var thresholdPercent: Double

    /// Runs each side needs for Welch's t-test. With two, the variance
    /// estimate rests on one degree of freedom and the Welch–Satterthwaite
    /// approximation is unreliable, so the exact rank test is used instead:
    /// it assumes no distribution and, at that size, only flags what no
    /// ordering of the runs could explain (often nothing; the report says so).
    public static let welchMinimumRuns = 3

    public init(confidence: Double = 0.95, thresholdPercent: Double = 5) {
        self.confidence = confidence
        self.thresholdPercent = thresholdPercent
    }

    /// Significance level: p-values below it are significant.
    public var alpha: Double { 1 - confidence }
}

/// A per-run measurement that `compare` tests.
public enum ComparedMetric: String, Hashable, Sendable, Codable {
    /// Mean IOPS of the run: lower is a regression.
    case iops
    /// 99th percentile completion latency of the run, µs: higher is a regression.
    case latencyP99 = "p99_latency_us"

    var higherIsBetter: Bool { self == .iops }

    /// The run's value of this metric.
    func value(_ result: GuestResult) -> Double {
        switch self {
        case .iops: result.iops
        case .latencyP99: result.latency.p99Us
        }
    }

    var label: String {
        switch self {
        case .iops: "IOPS"
        case .latencyP99: "p99"
        }
    }
}

/// Outcome for one metric or one cell. Declaration order is the report's
/// sort order: regressions first.
public enum Verdict: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    /// Worse, significantly and beyond the threshold.
    case regression
    /// Better, significantly and beyond the threshold.
    case improvement
    /// Tested; not both significant and beyond the threshold.
    case unchanged
    /// No test possible (fewer than two successful runs on a side).
    case untested

    public static func < (a: Verdict, b: Verdict) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
}

/// Baseline against current for one metric of one cell. Every number is
/// finite or nil, so the value encodes to JSON as it is.
public struct MetricComparison: Hashable, Sendable, Codable {
    public let metric: ComparedMetric
    /// Successful runs on each side (the sample sizes of the test).
    public let baselineRuns: Int
    public let currentRuns: Int
    public let baselineMean: Double?
    public let currentMean: Double?
    /// `(current - baseline) / baseline`, percent; nil without both means or
    /// with a zero baseline.
    public let changePercent: Double?
    /// The test used; nil when none was possible.
    public let test: TwoSampleTest.Method?
    /// Welch's t (current minus baseline) or the current side's U.
    public let statistic: Double?
    public let degreesOfFreedom: Double?
    /// Two-sided p-value.
    public let pValue: Double?
    /// `pValue < 1 - confidence`.
    public let significant: Bool
    public let verdict: Verdict
    /// Why a change was not flagged or not tested, when that is not obvious.
    public let note: String?
}

/// Baseline against current for one cell present on both sides.
public struct CellComparison: Hashable, Sendable, Codable {
    public let cellID: String
    /// Regression when either metric regressed; improvement when one
    /// improved and none regressed; unchanged when tested; else untested.
    public let verdict: Verdict
    public let iops: MetricComparison
    public let latencyP99: MetricComparison

    public var metrics: [MetricComparison] { [iops, latencyP99] }
}

/// One provenance field whose values differ between the two sides.
public struct EnvironmentDifference: Hashable, Sendable, Codable {
    /// `QEMU version`, `accelerator`, `host CPU`, …
    public let field: String
    /// Distinct values on each side, sorted.
    public let baseline: [String]
    public let current: [String]
}

/// What one side of a comparison is.
public struct ComparisonSide: Hashable, Sendable, Codable {
    /// Where the records came from (the path given on the command line).
    public let source: String
    public let runs: Int
    public let cells: Int
    /// Distinct values, sorted.
    public let matrixNames: [String]
    public let matrixHashes: [String]
    public let gitRevisions: [String]

    init(source: String, set: ResultSet) {
        self.source = source
        runs = set.records.count
        cells = set.cells.count
        matrixNames = distinctSorted(set.records.map(\.provenance.matrixName))
        matrixHashes = distinctSorted(set.records.map(\.provenance.matrixHash))
        gitRevisions = distinctSorted(set.records.map(\.provenance.gitRevision))
    }
}

/// A baseline result set compared with a current one, cell by cell.
///
/// Stability: `bench compare --json` prints this; fields are only added
/// within a `schemaVersion`.
public struct Comparison: Hashable, Sendable, Codable {
    public static let currentSchemaVersion = 1

    public let schemaVersion: Int
    public let criteria: RegressionCriteria
    public let baseline: ComparisonSide
    public let current: ComparisonSide
    /// Provenance fields that differ: the comparison is then about the
    /// environment as much as the code.
    public let environmentDifferences: [EnvironmentDifference]
    /// Cells on both sides, by verdict (regressions first), then in the
    /// current set's cell order (`ResultSet.cells`).
    public let cells: [CellComparison]
    /// Cell IDs on one side only, in that side's cell order: listed, not compared.
    public let onlyInBaseline: [String]
    public let onlyInCurrent: [String]

    /// Cells with a significant regression beyond the threshold.
    public var regressions: [CellComparison] { cells.filter { $0.verdict == .regression } }
    /// The CI gate: any regression fails it.
    public var hasRegression: Bool { cells.contains { $0.verdict == .regression } }
    /// `null-co` cells whose IOPS moved significantly beyond the threshold.
    /// They have no qcow2 metadata, so such a move is in the rest of the path
    /// (host load, QEMU core, guest kernel, driver), and qcow2 cells that
    /// moved by about as much are likely explained by it.
    public var ceilingShifts: [CellComparison] {
        cells.filter { $0.cellID.hasPrefix("null-") && [.regression, .improvement].contains($0.iops.verdict) }
    }
}

/// Compares `current` with `baseline`, matching cells by cell ID (their
/// configuration), never by position.
///
/// Per metric (IOPS, p99 latency), over each side's successful runs: Welch's
/// t-test when both sides have `RegressionCriteria.welchMinimumRuns`, the
/// exact Mann–Whitney U test when a side has two, no test with fewer (never
/// flagged). A change is a regression when it is significant and larger than
/// the threshold in the bad direction (lower IOPS, higher p99).
public func compareResults(
    baseline: ResultSet, current: ResultSet, criteria: RegressionCriteria = RegressionCriteria(),
    baselineSource: String = "baseline", currentSource: String = "current"
) -> Comparison {
    let baselineIDs = Set(baseline.cells.map(\.cellID))
    let currentIDs = Set(current.cells.map(\.cellID))
    let baselineRuns = successfulResults(baseline)
    let currentRuns = successfulResults(current)
    var compared: [(order: Int, cell: CellComparison)] = []
    for (order, cell) in current.cells.enumerated() where baselineIDs.contains(cell.cellID) {
        let b = baselineRuns[cell.cellID] ?? []
        let c = currentRuns[cell.cellID] ?? []
        let iops = compareMetric(.iops, baseline: b, current: c, criteria: criteria)
        let p99 = compareMetric(.latencyP99, baseline: b, current: c, criteria: criteria)
        compared.append((order, CellComparison(cellID: cell.cellID, verdict: cellVerdict(iops, p99), iops: iops, latencyP99: p99)))
    }
    compared.sort { ($0.cell.verdict, $0.order) < ($1.cell.verdict, $1.order) }
    return Comparison(
        schemaVersion: Comparison.currentSchemaVersion, criteria: criteria,
        baseline: ComparisonSide(source: baselineSource, set: baseline),
        current: ComparisonSide(source: currentSource, set: current),
        environmentDifferences: environmentDifferences(baseline: baseline, current: current),
        cells: compared.map(\.cell),
        onlyInBaseline: baseline.cells.map(\.cellID).filter { !currentIDs.contains($0) },
        onlyInCurrent: current.cells.map(\.cellID).filter { !baselineIDs.contains($0) })
}

/// Results of the successful runs per cell ID, in run order.
private func successfulResults(_ set: ResultSet) -> [String: [GuestResult]] {
    var out: [String: [GuestResult]] = [:]
    for r in set.records where r.succeeded {
        if let result = r.result { out[r.cellID, default: []].append(result) }
    }
    return out
}

private func cellVerdict(_ metrics: MetricComparison...) -> Verdict {
    let verdicts = metrics.map(\.verdict)
    if verdicts.contains(.regression) { return .regression }
    if verdicts.contains(.improvement) { return .improvement }
    if verdicts.contains(.unchanged) { return .unchanged }
    return .untested
}

/// One metric of one cell: test, then verdict.
func compareMetric(
    _ metric: ComparedMetric, baseline: [GuestResult], current: [GuestResult], criteria: RegressionCriteria
) -> MetricComparison {
    let b = baseline.map(metric.value).filter(\.isFinite)
    let c = current.map(metric.value).filter(\.isFinite)
    let bMean = SampleStats(b)?.mean
    let cMean = SampleStats(c)?.mean
    var change: Double?
    if let bMean, let cMean, bMean != 0 { change = finite((cMean - bMean) / bMean * 100) }

    func untested(_ why: String) -> MetricComparison {
        MetricComparison(
            metric: metric, baselineRuns: b.count, currentRuns: c.count, baselineMean: bMean, currentMean: cMean,
            changePercent: change, test: nil, statistic: nil, degreesOfFreedom: nil, pValue: nil, significant: false,
            verdict: .untested, note: why)
    }
    if b.isEmpty { return untested("no successful run in the baseline") }
    if c.isEmpty { return untested("no successful run in the current results") }
    if b.count < 2 || c.count < 2 {
        return untested(
            "\(b.count) baseline and \(c.count) current runs: no test is possible with a single run on a side")
    }
    let useWelch = min(b.count, c.count) >= RegressionCriteria.welchMinimumRuns
    guard let test = useWelch ? welchTTest(c, b) : mannWhitneyUTest(c, b), !test.pValue.isNaN else {
        return untested("the test could not be computed")
    }
    let significant = test.pValue < criteria.alpha
    let beyond = change.map { abs($0) > criteria.thresholdPercent } ?? false
    let worse = change.map { metric.higherIsBetter ? $0 < 0 : $0 > 0 } ?? false

    let verdict: Verdict
    var note: String?
    if significant && beyond {
        verdict = worse ? .regression : .improvement
    } else {
        verdict = .unchanged
        let threshold = fixed(criteria.thresholdPercent, 1) + "%"
        if significant {
            note = "significant, but within ±\(threshold)"
        } else if test.method == .mannWhitney,
            mannWhitneySmallestPValue(b.count, c.count) >= criteria.alpha
        {
            note =
                "with \(b.count) and \(c.count) runs the rank test cannot reach \(confidenceText(criteria)) confidence "
                + "(smallest p \(fixed(mannWhitneySmallestPValue(b.count, c.count), 3))); repeat more"
        } else if beyond {
            note = "beyond ±\(threshold) but not significant at \(confidenceText(criteria))"
        }
    }
    return MetricComparison(
        metric: metric, baselineRuns: b.count, currentRuns: c.count, baselineMean: bMean, currentMean: cMean,
        changePercent: change, test: test.method, statistic: finite(test.statistic),
        degreesOfFreedom: test.degreesOfFreedom.flatMap(finite), pValue: test.pValue, significant: significant,
        verdict: verdict, note: note)
}

/// `95%`, `99.5%`.
func confidenceText(_ criteria: RegressionCriteria) -> String {
    let percent = criteria.confidence * 100
    return (percent == percent.rounded() ? fixed(percent, 0) : fixed(percent, 1)) + "%"
}

private func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }

private func distinctSorted(_ values: [String]) -> [String] { Array(Set(values)).sorted() }

/// Provenance fields that decide what a measurement means, with the label
/// the report shows. Git revision and matrix are left out: a comparison
/// exists to see the effect of changing those.
private var environmentFields: [(String, (Provenance) -> String)] {
    [
        ("QEMU version", \.qemuVersion),
        ("accelerator", \.accel),
        ("host CPU", \.hostCPU),
        ("guest kernel", \.guestKernel),
        ("host kernel", \.hostKernel),
        ("image file system", \.imageFilesystem),
    ]
}

private func environmentDifferences(baseline: ResultSet, current: ResultSet) -> [EnvironmentDifference] {
    environmentFields.compactMap { name, value in
        let b = distinctSorted(baseline.records.map { value($0.provenance) })
        let c = distinctSorted(current.records.map { value($0.provenance) })
        return b == c ? nil : EnvironmentDifference(field: name, baseline: b, current: c)
    }
}
