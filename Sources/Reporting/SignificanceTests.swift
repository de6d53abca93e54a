#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Two-sample significance tests for `compare`: Welch's t-test, and the exact
// Mann–Whitney U test for samples too small for it. The special functions
// (ln Γ, exp, log, erfc) come from the C math library, unlike the formatters'
// plain-Swift arithmetic: p-values are compared with a threshold and printed
// to four decimals, where a last-bit difference between platforms cannot show.

/// A two-sided test of "both samples come from the same distribution".
public struct TwoSampleTest: Hashable, Sendable {
    public enum Method: String, Hashable, Sendable, Codable {
        /// Welch's unequal-variances t-test.
        case welch
        /// Mann–Whitney U (Wilcoxon rank-sum), exact for small samples.
        case mannWhitney = "mann-whitney"
        /// Student's t on paired differences (per-block log ratios against 0).
        case pairedT = "paired-t"
    }

    public let method: Method
    /// Welch: t of `mean(a) - mean(b)` (±infinity when both samples have
    /// zero spread and different means). Mann–Whitney: U of `a`, the number
    /// of pairs in which the `a` value is larger (ties count one half).
    public let statistic: Double
    /// Welch–Satterthwaite degrees of freedom; nil for Mann–Whitney and when
    /// neither sample has any spread.
    public let degreesOfFreedom: Double?
    /// Two-sided p-value, in `0...1`.
    public let pValue: Double
    /// Whether the p-value comes from the exact distribution (Mann–Whitney
    /// on small samples) or an approximation (t, normal).
    public let exact: Bool
}

// MARK: - Welch's t-test

/// Welch's t-test of `a` against `b`, two-sided. Nil when a sample has fewer
/// than two values (no variance estimate) or holds a non-finite value.
///
/// When neither sample varies, the t statistic is undefined: equal means give
/// p = 1, different means p = 0 (the samples cannot overlap).
public func welchTTest(_ a: [Double], _ b: [Double]) -> TwoSampleTest? {
    guard a.count >= 2, b.count >= 2, let sa = SampleStats(a), let sb = SampleStats(b) else { return nil }
    let va = sa.stdev * sa.stdev / Double(sa.count)
    let vb = sb.stdev * sb.stdev / Double(sb.count)
    let difference = sa.mean - sb.mean
    guard va + vb > 0 else {
        let t: Double = difference == 0 ? 0 : (difference > 0 ? .infinity : -.infinity)
        return TwoSampleTest(
            method: .welch, statistic: t, degreesOfFreedom: nil, pValue: difference == 0 ? 1 : 0, exact: false)
    }
    let t = difference / (va + vb).squareRoot()
    let df = (va + vb) * (va + vb) / (va * va / Double(sa.count - 1) + vb * vb / Double(sb.count - 1))
    return TwoSampleTest(
        method: .welch, statistic: t, degreesOfFreedom: df, pValue: studentTTwoSidedPValue(t: t, degreesOfFreedom: df),
        exact: false)
}

/// Student's one-sample t-test of `differences` against 0, two-sided: the
/// paired test of two measurements made side by side (block by block). Nil
/// with fewer than two finite values.
public func pairedTTest(_ differences: [Double]) -> TwoSampleTest? {
    guard differences.count >= 2, differences.allSatisfy(\.isFinite), let s = SampleStats(differences) else { return nil }
    let se = s.stdev / Double(s.count).squareRoot()
    let df = Double(s.count - 1)
    guard se > 0 else {
        let t: Double = s.mean == 0 ? 0 : (s.mean > 0 ? .infinity : -.infinity)
        return TwoSampleTest(method: .pairedT, statistic: t, degreesOfFreedom: df, pValue: s.mean == 0 ? 1 : 0, exact: false)
    }
    let t = s.mean / se
    return TwoSampleTest(
        method: .pairedT, statistic: t, degreesOfFreedom: df, pValue: studentTTwoSidedPValue(t: t, degreesOfFreedom: df), exact: false)
}

/// `P(|T| >= |t|)` for Student's t with `degreesOfFreedom` (any real > 0):
/// the regularized incomplete beta `I_{df/(df+t²)}(df/2, 1/2)`. NaN for
/// df <= 0 or NaN input.
public func studentTTwoSidedPValue(t: Double, degreesOfFreedom df: Double) -> Double {
    guard df > 0, !t.isNaN, !df.isNaN else { return .nan }
    if t.isInfinite { return 0 }
    if df.isInfinite { return erfc(abs(t) / 2.0.squareRoot()) }
    let t2 = t * t
    // x and 1 - x computed separately: for small t, 1 - x = t²/(df+t²) would
    // lose its digits to cancellation if taken as 1 - df/(df+t²).
    return incompleteBeta(x: df / (df + t2), complement: t2 / (df + t2), a: df / 2, b: 0.5)
}

/// The regularized incomplete beta function `I_x(a, b)`, the CDF of the Beta
/// distribution. Exact at the ends (0 at x <= 0, 1 at x >= 1); NaN for
/// non-positive or non-finite `a`, `b`, or a NaN `x`.
public func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
    guard a > 0, b > 0, a.isFinite, b.isFinite, !x.isNaN else { return .nan }
    if x <= 0 { return 0 }
    if x >= 1 { return 1 }
    return incompleteBeta(x: x, complement: 1 - x, a: a, b: b)
}

/// `I_x(a, b)` given `x` and `1 - x` separately (0 < x < 1, or the limits).
///
/// The continued fraction of Numerical Recipes (`betacf`, evaluated with
/// Lentz's method) converges fast for `x < (a + 1) / (a + b + 2)`; above that
/// point the symmetry `I_x(a, b) = 1 - I_{1-x}(b, a)` is used.
func incompleteBeta(x: Double, complement y: Double, a: Double, b: Double) -> Double {
    if x <= 0 { return 0 }
    if y <= 0 { return 1 }
    // ln of x^a (1-x)^b / B(a, b)
    let lnFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y)
    if x < (a + 1) / (a + b + 2) {
        return exp(lnFront) * betaContinuedFraction(x: x, a: a, b: b) / a
    }
    return 1 - exp(lnFront) * betaContinuedFraction(x: y, a: b, b: a) / b
}

/// The continued fraction of `I_x(a, b)` (Numerical Recipes §6.4), modified
/// Lentz evaluation. NaN if it has not converged after `maxIterations`
/// (which needs a, b far beyond any sample size here).
func betaContinuedFraction(x: Double, a: Double, b: Double) -> Double {
    let maxIterations = 10_000
    let epsilon = 1e-16
    let tiny = 1e-300
    let qab = a + b
    let qap = a + 1
    let qam = a - 1
    var c = 1.0
    var d = 1 - qab * x / qap
    if abs(d) < tiny { d = tiny }
    d = 1 / d
    var h = d
    for m in 1...maxIterations {
        let m = Double(m)
        let m2 = 2 * m
        // Even step.
        var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        if abs(d) < tiny { d = tiny }
        c = 1 + aa / c
        if abs(c) < tiny { c = tiny }
        d = 1 / d
        h *= d * c
        // Odd step.
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        if abs(d) < tiny { d = tiny }
        c = 1 + aa / c
        if abs(c) < tiny { c = tiny }
        d = 1 / d
        let delta = d * c
        h *= delta
        if abs(delta - 1) < epsilon { return h }
    }
    return .nan
}

// MARK: - Mann–Whitney U

/// Mann–Whitney U test of `a` against `b`, two-sided. Nil when a sample is
/// empty or holds a non-finite value.
///
/// Small samples get the exact permutation distribution of the rank sum
/// (ties take their mid-rank, so the distribution is exact with ties too);
/// the p-value is `min(1, 2 * min(P(R <= r), P(R >= r)))`, which is what
/// scipy's `mannwhitneyu(method="exact")` reports when there are no ties.
/// Large samples (when the exact count would take more than ~2·10⁷ steps)
/// use the normal approximation with tie and continuity corrections.
public func mannWhitneyUTest(_ a: [Double], _ b: [Double]) -> TwoSampleTest? {
    guard !a.isEmpty, !b.isEmpty, a.allSatisfy(\.isFinite), b.allSatisfy(\.isFinite) else { return nil }
    let ranks = RankedSamples(a, b)
    let na = a.count
    let nb = b.count
    // U of a = R_a - n_a (n_a + 1) / 2, with R_a from doubled ranks.
    let u = Double(ranks.doubledRankSumOfA - na * (na + 1)) / 2
    let n = na + nb
    let k = min(na, nb)
    let exactCost = Double(n) * Double(k) * Double(2 * k * n)
    if exactCost <= 2e7 {
        let p = ranks.exactTwoSidedPValue()
        return TwoSampleTest(method: .mannWhitney, statistic: u, degreesOfFreedom: nil, pValue: p, exact: true)
    }
    let mean = Double(na * nb) / 2
    let tieTerm = ranks.tieGroupSizes.reduce(0.0) { $0 + Double($1) * Double($1) * Double($1) - Double($1) }
    let variance = Double(na * nb) / 12 * (Double(n + 1) - tieTerm / (Double(n) * Double(n - 1)))
    guard variance > 0 else {
        return TwoSampleTest(method: .mannWhitney, statistic: u, degreesOfFreedom: nil, pValue: 1, exact: false)
    }
    let z = (abs(u - mean) - 0.5) / variance.squareRoot()
    return TwoSampleTest(
        method: .mannWhitney, statistic: u, degreesOfFreedom: nil, pValue: min(1, erfc(z / 2.0.squareRoot())),
        exact: false)
}

/// The smallest two-sided p-value the exact Mann–Whitney test can give for
/// samples of `m` and `n` values (no ties): `2 / C(m+n, m)`, capped at 1.
/// With 2 runs against 3 it is 0.2: no difference can be significant at 95%.
public func mannWhitneySmallestPValue(_ m: Int, _ n: Int) -> Double {
    guard m > 0, n > 0 else { return 1 }
    var arrangements = 1.0
    for i in 0..<min(m, n) { arrangements = arrangements * Double(m + n - i) / Double(i + 1) }
    return min(1, 2 / arrangements)
}

/// The pooled sample in value order with doubled mid-ranks (integers, so
/// ties need no fractions).
struct RankedSamples {
    /// Doubled mid-rank of each pooled value, and whether it came from `a`.
    var doubledRanks: [(rank: Int, fromA: Bool)] = []
    /// Sizes of groups of equal values (1 for an untied value).
    var tieGroupSizes: [Int] = []
    let countA: Int
    let countB: Int

    init(_ a: [Double], _ b: [Double]) {
        countA = a.count
        countB = b.count
        let pooled = (a.map { ($0, true) } + b.map { ($0, false) }).sorted { $0.0 < $1.0 }
        var i = 0
        while i < pooled.count {
            var j = i
            while j < pooled.count, pooled[j].0 == pooled[i].0 { j += 1 }
            // Positions i..<j hold ranks i+1...j; doubled mid-rank = i+1+j.
            for p in i..<j { doubledRanks.append((i + 1 + j, pooled[p].1)) }
            tieGroupSizes.append(j - i)
            i = j
        }
    }

    var doubledRankSumOfA: Int { doubledRanks.filter(\.fromA).reduce(0) { $0 + $1.rank } }

    /// Exact two-sided p of the rank sum under random assignment of the
    /// pooled values to the samples. Counts subsets of the smaller sample's
    /// size by doubled rank sum (O(N · k · 2kN) for N values, k = smaller size).
    func exactTwoSidedPValue() -> Double {
        let useA = countA <= countB
        let k = useA ? countA : countB
        let observed = doubledRanks.filter { $0.fromA == useA }.reduce(0) { $0 + $1.rank }
        let maxSum = doubledRanks.map(\.rank).sorted(by: >).prefix(k).reduce(0, +)
        let width = maxSum + 1
        // ways[j * width + s]: subsets of size j with doubled rank sum s.
        var ways = [Double](repeating: 0, count: (k + 1) * width)
        ways[0] = 1
        for (index, item) in doubledRanks.enumerated() {
            let r = item.rank
            for j in stride(from: min(index + 1, k), through: 1, by: -1) {
                let row = j * width
                let previous = (j - 1) * width
                for s in stride(from: maxSum, through: r, by: -1) {
                    let w = ways[previous + s - r]
                    if w != 0 { ways[row + s] += w }
                }
            }
        }
        let row = k * width
        var total = 0.0
        var atMost = 0.0
        var atLeast = 0.0
        for s in 0...maxSum {
            let w = ways[row + s]
            total += w
            if s <= observed { atMost += w }
            if s >= observed { atLeast += w }
        }
        guard total > 0 else { return 1 }
        return min(1, 2 * min(atMost, atLeast) / total)
    }
}
