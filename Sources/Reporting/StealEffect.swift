import BenchResults
import Foundation

/// How much of the slot-to-slot variation in IOPS the host's CPU steal
/// explains: each slot's log IOPS minus its cell's mean, regressed on the
/// slot's steal percentage (one common slope, a separate mean per cell).
///
/// Why: on a virtual host the hypervisor takes CPU time from the guest's
/// QEMU, and under TCG everything is CPU-bound, so stolen time is lost
/// I/O. A clear slope says the noise that widens the ratio CIs comes from
/// the machine, not from the harness or QEMU; it is shown, never used to
/// adjust a result.
public struct StealEffect: Hashable, Sendable {
    /// Change in IOPS per percentage point of steal (e.g. -0.03 = -3%), as
    /// `exp(slope) - 1`, with its 95% CI.
    public var perPoint: Double
    public var perPointLow: Double
    public var perPointHigh: Double
    /// The fitted slope of log IOPS per percentage point of steal.
    public var logSlope: Double
    /// Share of the within-cell variance of log IOPS the slope explains.
    public var rSquared: Double
    public var slots: Int
    public var meanSteal: Double
    public var maxSteal: Double

    /// Nil without at least 3 more successful slots than cells, or without
    /// any variation in steal.
    public init?(records: [RunRecord]) {
        var byCell: [String: [(steal: Double, logIOPS: Double)]] = [:]
        for r in records where r.succeeded {
            guard let steal = r.slot?.host?.stealPercent, let iops = r.result?.iops, iops > 0, steal.isFinite else { continue }
            byCell[r.cellID, default: []].append((steal, log(iops)))
        }
        let cells = byCell.values.filter { $0.count >= 2 }
        let n = cells.map(\.count).reduce(0, +)
        let df = n - cells.count - 1
        guard df >= 2 else { return nil }
        var sxx = 0.0
        var sxy = 0.0
        var syy = 0.0
        var steals: [Double] = []
        for slots in cells {
            let mx = slots.map(\.steal).reduce(0, +) / Double(slots.count)
            let my = slots.map(\.logIOPS).reduce(0, +) / Double(slots.count)
            for s in slots {
                sxx += (s.steal - mx) * (s.steal - mx)
                sxy += (s.steal - mx) * (s.logIOPS - my)
                syy += (s.logIOPS - my) * (s.logIOPS - my)
                steals.append(s.steal)
            }
        }
        guard sxx > 1e-9, syy > 0 else { return nil }
        let slope = sxy / sxx
        let residual = max(0, syy - slope * sxy)
        let half = tQuantile975(df: df) * (residual / Double(df) / sxx).squareRoot()
        logSlope = slope
        perPoint = exp(slope) - 1
        perPointLow = exp(slope - half) - 1
        perPointHigh = exp(slope + half) - 1
        rSquared = 1 - residual / syy
        slots = n
        meanSteal = steals.reduce(0, +) / Double(steals.count)
        maxSteal = steals.max() ?? 0
    }

    /// `iops` measured under `stealPercent` of steal, taken to zero steal
    /// along the fitted slope.
    public func atZeroSteal(iops: Double, stealPercent: Double) -> Double { iops * exp(-logSlope * stealPercent) }

    /// Whether steal measurably moved IOPS: its slope's CI excludes 0.
    public var isMeasurable: Bool { perPointHigh < 0 || perPointLow > 0 }

    /// One sentence for the report.
    public var sentence: String {
        let pct = { (x: Double) in String(format: "%+.1f%%", x * 100) }
        guard isMeasurable else {
            return String(
                format:
                    "Host CPU steal (mean %.1f%%, max %.1f%% of a slot) had no measurable effect on IOPS (%d slots): the slot-to-slot variation comes from elsewhere.",
                meanSteal, maxSteal, slots)
        }
        return String(
            format:
                "Host CPU steal (mean %.1f%%, max %.1f%% of a slot) explains %.0f%% of the slot-to-slot variation in IOPS: each point of steal %@ IOPS (CI %@ to %@; %d slots, a common slope within cells).",
            meanSteal, maxSteal, rSquared * 100, pct(perPoint), pct(perPointLow), pct(perPointHigh), slots)
    }
}
