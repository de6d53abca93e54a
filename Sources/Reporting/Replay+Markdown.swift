/// Targets of issue 12 that a replay checks, as fractions.
public enum ReplayTargets {
    /// The gate should flag the dropped cell in at least this share of nights.
    public static let power = 0.80
    /// A/A nights should fail the gate in at most this share (1 in 20).
    public static let falseAlarm = 0.05
}

/// `bench replay`'s Markdown: what was replayed, then one table with the
/// A/A false-alarm rate and each dropped cell's power, with Wilson 95% CIs
/// and the targets. Depends only on the report: fixed decimals, no clock.
public func replayMarkdown(_ r: ReplayReport) -> String {
    var md = MarkdownWriter()
    md.line("# Replay of the nightly gate on \(code(r.source))")
    md.blank()
    let drawn: String
    switch r.pool {
    case .independent:
        drawn = "each drawn independently, with replacement, from all \(r.poolBlocks) paired blocks"
    case .split:
        drawn = "each of distinct blocks from its own half of the \(r.poolBlocks) paired blocks (a new random split per pair)"
    }
    md.line("- Nights: \(r.nights) pairs of \(r.blocksPerNight) blocks, \(drawn); seed \(r.seed).")
    if r.unpairedRecords > 0 {
        md.line("- Left out: \(r.unpairedRecords) records of cells in their own guests (no blocks to resample).")
    }
    md.line(
        "- Gate: `bench compare`'s, confidence \(confidenceText(r.criteria)), threshold \(fixed(r.criteria.thresholdPercent, 1))%, "
            + "Holm–Bonferroni over the gated tests; the new night of a power pair has one cell's IOPS "
            + "\(fixed(r.dropPercent, 1))% lower"
            + (r.regression == .cpu
                ? " at the same QEMU CPU time (a costlier write: its CPU ratio falls as much)."
                : r.regression == .wait ? " at the same QEMU CPU time per write (added waiting: its CPU ratio does not move)." : "."))
    md.blank()
    let aa = r.falseAlarms
    let rows: [[String]] =
        [[
            "A/A night fails the gate (false alarm)", rateText(aa), ciText(aa),
            "≤ \(fixed(ReplayTargets.falseAlarm * 100, 0))%", aa.rate <= ReplayTargets.falseAlarm ? "met" : "missed",
        ]]
        + r.cells.map { c in
            [
                "\(fixed(r.dropPercent, 1))% drop of \(code(c.label)) flagged (power)", rateText(c.flagged), ciText(c.flagged),
                "≥ \(fixed(ReplayTargets.power * 100, 0))%", c.flagged.rate >= ReplayTargets.power ? "met" : "missed",
            ]
        }
    md.table(["Check", "Measured", "95% CI", "Target", ""], ["l", "r", "r", "r", "l"], rows)
    md.blank()
    md.line(
        "A/A nights with any flag (regression or improvement): \(rateText(r.anyFlag)). "
            + "Median smallest change `compare` could detect (80% power) on an A/A night: "
            + r.cells.map { "\(code($0.label)) \($0.medianMinimumDetectablePercent.map { fixed($0, 1) + "%" } ?? "-")" }
            .joined(separator: ", ") + ".")
    if r.criteria.thresholdPercent >= r.dropPercent {
        md.blank()
        md.line(
            "Note: the threshold (\(fixed(r.criteria.thresholdPercent, 1))%) is not below the drop "
                + "(\(fixed(r.dropPercent, 1))%): a change is flagged only when its estimate exceeds the threshold, "
                + "which a drop of exactly that size does in about half the nights however many blocks there are.")
    }
    return md.text
}

private func rateText(_ p: Proportion) -> String { "\(fixed(p.rate * 100, 1))% (\(p.count) of \(p.trials))" }

private func ciText(_ p: Proportion) -> String { "\(fixed(p.low * 100, 1))–\(fixed(p.high * 100, 1))%" }
