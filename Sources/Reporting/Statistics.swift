/// Summary statistics of one sample (the IOPS of a cell's repetitions).
///
/// The confidence interval is the two-sided 95% Student's t interval of the
/// mean: `ci95 = t(0.975, n-1) * stdev / sqrt(n)`, reported as its
/// half-width, so the interval is `mean ± ci95`. It assumes the repetitions
/// are independent draws from one roughly normal distribution; with the few
/// repetitions a benchmark affords, read it as an indication of spread, not
/// as a guarantee.
public struct SampleStats: Hashable, Sendable {
    /// Number of values.
    public let count: Int
    /// Arithmetic mean.
    public let mean: Double
    /// Sample standard deviation (divisor `n - 1`); 0 when `count == 1`.
    public let stdev: Double
    /// Half-width of the 95% confidence interval of the mean; nil when
    /// `count == 1` (one value says nothing about spread).
    public let ci95: Double?
    public let min: Double
    public let max: Double
    /// Middle value; the mean of the two middle values for an even count.
    public let median: Double

    /// Summarises `values`. Returns nil when `values` is empty or holds a
    /// non-finite value (NaN or infinity), which no measurement should produce:
    /// a caller gets "no statistics" rather than NaN propagating into reports.
    public init?(_ values: [Double]) {
        guard !values.isEmpty, values.allSatisfy({ $0.isFinite }) else { return nil }
        let n = values.count
        let sorted = values.sorted()
        let mean = values.reduce(0, +) / Double(n)
        count = n
        self.mean = mean
        guard let lo = sorted.first, let hi = sorted.last else { return nil }
        min = lo
        max = hi
        median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        if n == 1 {
            stdev = 0
            ci95 = nil
        } else {
            let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            let sd = (squares / Double(n - 1)).squareRoot()
            stdev = sd
            ci95 = tQuantile975(df: n - 1) * sd / Double(n).squareRoot()
        }
    }

    /// `ci95` relative to the mean, in percent; nil without an interval or
    /// with a zero mean.
    public var ci95Percent: Double? {
        guard let ci = ci95, mean != 0 else { return nil }
        return ci / mean * 100
    }
}

/// Two-sided 95% critical values of Student's t, `t(0.975, df)`, for
/// df = 1...30 (rounded to 4 decimals).
private let tTable: [Double] = [
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
]

/// Anchors beyond the table: (df, t). Between them the value is interpolated
/// linearly in `1/df`, which tracks the true quantile to about 1e-3; the
/// last anchor is the normal quantile 1.96 (df = infinity, `1/df = 0`).
private let tAnchors: [(df: Double, t: Double)] = [(30, 2.0423), (40, 2.0211), (60, 2.0003), (120, 1.9799)]
private let zQuantile975 = 1.9600

/// The 0.975 quantile of Student's t distribution with `df` degrees of
/// freedom: the multiplier of the standard error for a two-sided 95%
/// confidence interval. Exact table values (4 decimals) for df 1...30,
/// interpolation in `1/df` towards 1.96 beyond; NaN for `df < 1`.
public func tQuantile975(df: Int) -> Double {
    guard df >= 1 else { return .nan }
    if df <= tTable.count { return tTable[df - 1] }
    let x = 1 / Double(df)
    for (a, b) in zip(tAnchors, tAnchors.dropFirst()) where Double(df) <= b.df {
        let xa = 1 / a.df
        let xb = 1 / b.df
        return b.t + (a.t - b.t) * (x - xb) / (xa - xb)
    }
    // Beyond the last anchor: interpolate to the normal quantile at 1/df = 0.
    guard let last = tAnchors.last else { return zQuantile975 }
    return zQuantile975 + (last.t - zQuantile975) * x * last.df
}
