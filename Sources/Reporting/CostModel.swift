import BenchResults
import BenchSpec
import Foundation

/// A straight line fitted by ordinary least squares, `y = intercept +
/// slope * x`, with 95% t intervals (n - 2 degrees of freedom) for both.
public struct LinearFit: Hashable, Sendable {
    public var intercept: Double
    public var slope: Double
    /// Half-widths of the 95% CIs.
    public var interceptCI: Double
    public var slopeCI: Double
    public var points: Int
    /// Residual standard deviation.
    public var residualStdev: Double
    /// Mean of x and the sum of squares about it: with `residualStdev`, the
    /// covariance of intercept and slope (for intervals on derived values).
    public var meanX: Double
    public var sxx: Double

    /// Nil with fewer than 3 points or when every x is the same.
    public init?(x: [Double], y: [Double]) {
        let n = min(x.count, y.count)
        guard n >= 3 else { return nil }
        let xs = Array(x.prefix(n))
        let ys = Array(y.prefix(n))
        guard xs.allSatisfy(\.isFinite), ys.allSatisfy(\.isFinite) else { return nil }
        let mx = xs.reduce(0, +) / Double(n)
        let my = ys.reduce(0, +) / Double(n)
        var sxx = 0.0
        var sxy = 0.0
        for (a, b) in zip(xs, ys) {
            sxx += (a - mx) * (a - mx)
            sxy += (a - mx) * (b - my)
        }
        guard sxx > 1e-12 * max(1, mx * mx) * Double(n) else { return nil }
        slope = sxy / sxx
        intercept = my - slope * mx
        var ssr = 0.0
        for (a, b) in zip(xs, ys) {
            let r = b - intercept - slope * a
            ssr += r * r
        }
        let s = (ssr / Double(n - 2)).squareRoot()
        let t = tQuantile975(df: n - 2)
        residualStdev = s
        meanX = mx
        self.sxx = sxx
        slopeCI = t * s / sxx.squareRoot()
        interceptCI = t * s * (1 / Double(n) + mx * mx / sxx).squareRoot()
        points = n
    }
}

/// Time per write against L2 misses per write, per series:
/// `1 / IOPS ≈ t0 + misses_per_write * t_miss`, fitted over the series'
/// traced slots (one point per slot: its misses per write and its IOPS).
/// Because a miss holds the image's lock while its slice is read (DESIGN
/// §2b), `t_miss` should come out near the miss read time QEMU's trace
/// shows, and `t0` near the time per write at full coverage.
public struct CostModel: Hashable, Sendable {
    public var series: SeriesKey
    /// Microseconds per write with no miss, and per miss, with 95% CI half-widths.
    public var fit: LinearFit
    public var t0Micros: Double { fit.intercept }
    public var tMissMicros: Double { fit.slope }

    /// Predicted IOPS at `missesPerWrite` (nil where the line gives no positive time).
    public func iops(missesPerWrite m: Double) -> Double? {
        let t = t0Micros + m * tMissMicros
        return t > 0 ? 1e6 / t : nil
    }

    /// Predicted IOPS at effective L2 coverage `c` (fraction) under the
    /// coverage model (misses per write `1 - c`).
    public func iops(coverage c: Double) -> Double? { iops(missesPerWrite: max(0, 1 - min(1, c))) }

    /// IOPS at effective L2 coverage `c` (fraction) over IOPS at full
    /// coverage, `t0 / (t0 + (1 - c) * t_miss)`, with a 95% interval by the
    /// delta method on the fit's intercept/slope covariance. Nil where the
    /// fit gives no positive time per write.
    public func fractionOfFullCoverage(coverage c: Double) -> (fraction: Double, low: Double, high: Double)? {
        let x = max(0, 1 - min(1, c))
        let a = fit.intercept
        let b = fit.slope
        let t = a + x * b
        guard a > 0, t > 0 else { return nil }
        let f = a / t
        let s2 = fit.residualStdev * fit.residualStdev
        let varA = s2 * (1 / Double(fit.points) + fit.meanX * fit.meanX / fit.sxx)
        let varB = s2 / fit.sxx
        let cov = -fit.meanX * s2 / fit.sxx
        let scale = x / (t * t)
        let variance = scale * scale * (b * b * varA + a * a * varB - 2 * a * b * cov)
        let half = tQuantile975(df: fit.points - 2) * max(0, variance).squareRoot()
        return (f, max(0, f - half), f + half)
    }

    public init?(series: SeriesKey, records: [RunRecord]) {
        let p = CellCacheCounters.points(records.filter { SeriesKey($0.cell) == series })
        guard let fit = LinearFit(x: p.map(\.l2), y: p.map { 1e6 / $0.iops }) else { return nil }
        self.series = series
        self.fit = fit
    }
}

/// The cost model of every series with enough traced slots, in series order.
public func costModels(_ set: ResultSet) -> [CostModel] {
    let traced = set.records.filter { $0.slot?.cache != nil }
    guard !traced.isEmpty else { return [] }
    return set.series.compactMap { CostModel(series: $0, records: traced) }
}
