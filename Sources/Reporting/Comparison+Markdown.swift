/// `compare.md`: a comparison as Markdown, for people and CI logs.
///
/// Sections, in order: a warning when the environments differ (first, since
/// it changes how everything below reads); a warning when the null-co
/// ceiling itself moved; the verdict line; what each side
/// is; the rule that flags a change; one table row per compared cell in
/// `Comparison.cells` order (regressions first); the cells found on one
/// side only. Depends only on the comparison: no clock, fixed decimals.
public func comparisonMarkdown(_ c: Comparison) -> String {
    var md = MarkdownWriter()
    md.line("# qcow2 cache benchmark comparison")
    md.blank()
    if !c.environmentDifferences.isEmpty {
        md.line(
            "**Warning: the environments differ** ("
                + c.environmentDifferences.map(\.field).joined(separator: ", ")
                + "). Changes below may come from the environment, not the code.")
        md.blank()
        md.table(
            ["Property", "Baseline", "Current"], ["l", "l", "l"],
            c.environmentDifferences.map {
                [$0.field, $0.baseline.joined(separator: "; "), $0.current.joined(separator: "; ")]
            })
        md.blank()
    }
    for shift in c.ceilingShifts {
        md.line(
            "**The null-co ceiling moved**: \(code(shift.cellID)) "
                + (shift.iops.changePercent.map(signedPercent) ?? "-") + " IOPS, p = " + pText(shift.iops)
                + ". That cell has no qcow2 metadata, so the guest I/O path itself changed (host load, QEMU core, "
                + "guest kernel or driver); qcow2 cells that moved by about as much likely moved for the same reason.")
        md.blank()
    }
    md.line(verdictLine(c))
    md.blank()
    md.line("- Baseline: " + sideText(c.baseline))
    md.line("- Current: " + sideText(c.current))
    if c.baseline.matrixHashes != c.current.matrixHashes {
        md.line("- The matrices differ: only cells with the same configuration (cell ID) are compared.")
    }
    md.blank()
    let criteria = c.criteria
    if let builds = c.builds, builds.count == 2 {
        md.line(
            "QEMU build \(code(builds[1])) against the base build \(code(builds[0])), measured in one run: each block booted one "
                + "guest per build and ran every cell in it. A cell's *build ratio* is its IOPS under \(code(builds[1])) over its "
                + "IOPS under \(code(builds[0])) in the same block (geometric mean over blocks; paired t-test on the per-block "
                + "log ratios); its *CPU ratio* pairs writes per QEMU CPU millisecond the same way (steadier when the host "
                + "steals CPU between the two guests, blind to a change that only adds waiting). "
                + "A change is flagged when it is significant at \(confidenceText(criteria)) confidence after "
                + "Holm–Bonferroni over every gated test, and larger than \(fixed(criteria.thresholdPercent, 1))%: a lower "
                + "build or CPU ratio is a regression. The null-co cell is gated too: a build can slow the I/O path without qcow2. "
                + "Cells that ran a guest per run have no blocks to pair and are gated on IOPS and p99 (Welch). "
                + "*MDE* is the smallest change the test would detect with 80% power at that family-wise level.")
        md.blank()
    } else {
        md.line(
            "A change is flagged when it is significant at \(confidenceText(criteria)) confidence after Holm–Bonferroni "
                + "over every gated test, and larger than \(fixed(criteria.thresholdPercent, 1))% of the baseline: lower IOPS "
                + "or paired ratio, or higher p99 latency, is a regression. Cells measured in shared guests on both sides are "
                + "gated on their *paired ratio* (IOPS over the series reference's in the same block; Welch's t-test on the "
                + "per-block log ratios), which does not move with the runner's speed, and on their *CPU ratio* (the same "
                + "pairing on writes per QEMU CPU millisecond: steadier under host CPU steal, blind to a change that only adds "
                + "waiting); their absolute IOPS and p99 are shown, not gated. Other cells: Welch's t-test with at least \(RegressionCriteria.welchMinimumRuns) runs on both "
                + "sides, the exact Mann–Whitney U test when a side has 2, none with 1. The null-co control is never gated. "
                + "*MDE* is the smallest change the test would detect with 80% power at that family-wise level.")
        md.blank()
    }
    if c.cells.isEmpty {
        md.line("No cell is in both result sets: nothing was compared.")
        md.blank()
    } else {
        var rows: [[String]] = []
        for cell in c.cells {
            // The same note for both metrics (they share their runs) is said once.
            var notes: [(labels: [String], text: String)] = []
            for m in cell.metrics {
                guard let note = m.note else { continue }
                if let i = notes.firstIndex(where: { $0.text == note }) {
                    notes[i].labels.append(m.metric.label)
                } else {
                    notes.append(([m.metric.label], note))
                }
            }
            if let why = cell.ungatedBecause { notes.insert(([], why), at: 0) }
            let ratio = cell.pairedRatio
            rows.append(
                [verdictText(cell), code(cell.cellID)]
                    + [
                        ratio.flatMap { r in r.baselineMean.map { fixed($0, 3) } } ?? "-",
                        ratio.flatMap { r in r.currentMean.map { fixed($0, 3) } } ?? "-",
                        ratio?.changePercent.map(signedPercent) ?? "-",
                        ratio.map(pText) ?? "-",
                        (ratio ?? cell.iops).minimumDetectablePercent.map { "±" + fixed($0, 1) + "%" } ?? "-",
                        cell.cpuRatio?.changePercent.map(signedPercent) ?? "-",
                        cell.cpuRatio.map(pText) ?? "-",
                        cell.cpuRatio?.minimumDetectablePercent.map { "±" + fixed($0, 1) + "%" } ?? "-",
                    ]
                    + metricColumns(cell.iops, decimals: 0) + metricColumns(cell.latencyP99, decimals: 1)
                    + [notes.map { ($0.labels.isEmpty ? "" : $0.labels.joined(separator: ", ") + ": ") + $0.text }.joined(separator: "; ")])
        }
        md.table(
            [
                "Verdict", "Cell", "Ratio baseline", "Ratio current", "Ratio change", "Ratio p (Holm)", "MDE",
                "CPU ratio change", "CPU p (Holm)", "CPU MDE", "IOPS baseline", "IOPS current", "IOPS change", "IOPS p", "p99 µs baseline", "p99 µs current",
                "p99 change", "p99 p", "Notes",
            ],
            ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"], rows)
        md.blank()
    }
    if !c.onlyInBaseline.isEmpty {
        md.line("Only in the baseline (not compared): " + c.onlyInBaseline.map(code).joined(separator: ", "))
        md.blank()
    }
    if !c.onlyInCurrent.isEmpty {
        md.line("Only in the current results (not compared): " + c.onlyInCurrent.map(code).joined(separator: ", "))
        md.blank()
    }
    return md.text
}

private func verdictLine(_ c: Comparison) -> String {
    let n = c.cells.count
    let regressed = c.regressions.count
    let improved = c.cells.filter { $0.verdict == .improvement }.count
    let untested = c.cells.filter { $0.verdict == .untested }.count
    var parts: [String] = []
    if improved > 0 { parts.append("\(improved) improved") }
    if untested > 0 { parts.append("\(untested) not testable") }
    let rest = parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    if regressed > 0 {
        return "**Regression: \(regressed) of \(n) compared \(n == 1 ? "cell" : "cells") regressed**\(rest)."
    }
    return "**No regression** in \(n) compared \(n == 1 ? "cell" : "cells")\(rest)."
}

private func sideText(_ s: ComparisonSide) -> String {
    "\(code(s.source)): \(s.runs) runs of \(s.cells) cells; matrix \(s.matrixNames.joined(separator: ", ")) "
        + "(hash \(s.matrixHashes.joined(separator: ", "))); git \(s.gitRevisions.joined(separator: ", "))"
}

private func verdictText(_ cell: CellComparison) -> String {
    if !cell.gated && cell.cellID.hasPrefix("null-") { return "control" }
    let which = cell.metrics.filter { $0.gated && $0.verdict == cell.verdict }.map(\.metric.label).joined(separator: ", ")
    switch cell.verdict {
    case .regression: return "**regression** (\(which))"
    case .improvement: return "improvement (\(which))"
    case .unchanged: return "no change"
    case .untested: return "not tested"
    }
}

/// Baseline, current, change and p of one metric.
private func metricColumns(_ m: MetricComparison, decimals: Int) -> [String] {
    func value(_ mean: Double?, _ n: Int) -> String {
        guard let mean else { return "-" }
        return (decimals == 0 ? grouped(mean) : fixed(mean, decimals)) + " (n=\(n))"
    }
    let change = m.changePercent.map { signedPercent($0) } ?? "-"
    return [value(m.baselineMean, m.baselineRuns), value(m.currentMean, m.currentRuns), change, pText(m)]
}

/// `+1.9%`, `-10.5%`, `0.0%` (no sign when it rounds to zero).
private func signedPercent(_ value: Double) -> String {
    let text = fixed(value, 1)
    return (value > 0 && text != "0.0" ? "+" : "") + text + "%"
}

/// `0.0123 (Welch)`, `<0.0001 (Welch)`, `0.2000 (MWU)`, `-`; the
/// Holm-adjusted p-value when the metric was gated.
private func pText(_ m: MetricComparison) -> String {
    guard let p = m.adjustedPValue ?? m.pValue, let test = m.test else { return "-" }
    let name = switch test {
    case .welch: "Welch"
    case .mannWhitney: "MWU"
    case .pairedT: "paired t"
    }
    return (p < 0.0001 ? "<0.0001" : fixed(p, 4)) + " (\(name))"
}
