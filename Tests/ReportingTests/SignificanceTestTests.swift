import Testing

@testable import Reporting

/// Reference values come from scipy 1.17 (`scipy.special.betainc`,
/// `scipy.stats.t.sf`, `ttest_ind(equal_var=False)`, `mannwhitneyu`), and for
/// the tied rank tests from a brute-force enumeration of every assignment of
/// the pooled values; the numbers are pasted here, scipy is not needed to run.
@Suite("Significance tests")
struct SignificanceTestTests {
    /// `|actual - expected| <= tolerance * max(1, |expected|)`.
    func close(_ actual: Double, _ expected: Double, _ tolerance: Double = 1e-10) -> Bool {
        abs(actual - expected) <= tolerance * max(1, abs(expected))
    }

    @Test(
        "regularized incomplete beta I_x(a, b)",
        arguments: [
            (2.0, 3.0, 0.4, 0.5247999999999999),
            (0.5, 0.5, 0.3, 0.36901011956554536),
            (5.0, 0.5, 0.9, 0.3166429150200122),
            (1.5, 0.5, 0.999, 0.9597433418849682),
            (100.0, 100.0, 0.55, 0.9216120672877799),
            (0.5, 0.5, 1e-10, 6.366197723781918e-06),
        ])
    func incompleteBeta(a: Double, b: Double, x: Double, expected: Double) {
        #expect(close(regularizedIncompleteBeta(x, a: a, b: b), expected), "I_\(x)(\(a), \(b))")
    }

    @Test("incomplete beta keeps relative precision in the far tail")
    func incompleteBetaTail() {
        let a = regularizedIncompleteBeta(0.01, a: 10, b: 0.5)
        #expect(abs(a / 1.770034965528571e-21 - 1) < 1e-9)
        let b = regularizedIncompleteBeta(0.2, a: 30, b: 0.5)
        #expect(abs(b / 1.2265219714158866e-22 - 1) < 1e-9)
    }

    @Test("incomplete beta: ends and invalid parameters")
    func incompleteBetaEdges() {
        #expect(regularizedIncompleteBeta(0, a: 2, b: 3) == 0)
        #expect(regularizedIncompleteBeta(-1, a: 2, b: 3) == 0)
        #expect(regularizedIncompleteBeta(1, a: 2, b: 3) == 1)
        #expect(regularizedIncompleteBeta(0.5, a: 0, b: 3).isNaN)
        #expect(regularizedIncompleteBeta(0.5, a: 2, b: -1).isNaN)
        #expect(regularizedIncompleteBeta(.nan, a: 2, b: 3).isNaN)
        // Symmetry: I_x(a, b) = 1 - I_{1-x}(b, a).
        let x = 0.37
        #expect(close(regularizedIncompleteBeta(x, a: 2.5, b: 4) + regularizedIncompleteBeta(1 - x, a: 4, b: 2.5), 1))
    }

    @Test(
        "Student t two-sided p-values, fractional df included",
        arguments: [
            (2.0, 5.0, 0.10193947882985835),
            (0.5, 2.3, 0.6608724348847556),
            (10.0, 4.0, 0.000562003622715991),
            (1.96, 1000.0, 0.050273184955748736),
            (0.0, 3.0, 1.0),
            (-3.2, 7.5, 0.013735153862408266),
            (25.0, 2.0, 0.001596170211410334),
            (1.0, 1.0, 0.5000000000000001),
        ])
    func studentT(t: Double, df: Double, expected: Double) {
        #expect(close(studentTTwoSidedPValue(t: t, degreesOfFreedom: df), expected, 1e-9), "t \(t), df \(df)")
    }

    @Test("Student t: infinite t gives 0, invalid df gives NaN, infinite df is the normal")
    func studentTEdges() {
        #expect(studentTTwoSidedPValue(t: .infinity, degreesOfFreedom: 4) == 0)
        #expect(studentTTwoSidedPValue(t: 1, degreesOfFreedom: 0).isNaN)
        #expect(studentTTwoSidedPValue(t: .nan, degreesOfFreedom: 3).isNaN)
        // 2 * (1 - Φ(1.96)) = 0.04999579029644087
        #expect(close(studentTTwoSidedPValue(t: 1.96, degreesOfFreedom: .infinity), 0.04999579029644087, 1e-12))
    }

    /// (a, b, t, p, Welch–Satterthwaite df) from `ttest_ind(a, b, equal_var=False)`.
    static let welchCases: [([Double], [Double], Double, Double, Double)] = [
        (
            [18050, 18190, 17980, 18110, 18020], [16300, 16250, 16420, 16180, 16350],
            32.102324067368016, 1.1765641367598034e-09, 7.901167015773949
        ),
        (
            [18000, 15000, 21000, 17000, 19500], [16500, 13000, 19800, 15500, 17200],
            1.1236369831487032, 0.29392281381190394, 7.956627858108511
        ),
        ([9540, 9710, 9605], [9100, 9420, 9330], 3.119749262574577, 0.05231178839030073, 3.00724838830411),
        (
            [10.0, 10.5, 9.8, 10.2], [11.0, 14.0, 9.0, 12.5, 13.1, 10.9],
            -2.160991511352179, 0.07899546844179804, 5.403654514100908
        ),
    ]

    @Test("Welch's t-test matches scipy", arguments: welchCases)
    func welch(a: [Double], b: [Double], t: Double, p: Double, df: Double) throws {
        let r = try #require(welchTTest(a, b))
        #expect(r.method == .welch && !r.exact)
        #expect(close(r.statistic, t, 1e-10))
        #expect(close(try #require(r.degreesOfFreedom), df, 1e-10))
        #expect(close(r.pValue, p, 1e-8), "p \(r.pValue) vs \(p)")
    }

    @Test("Welch needs two values a side; zero spread gives p 1 or 0")
    func welchEdges() throws {
        #expect(welchTTest([1], [1, 2, 3]) == nil)
        #expect(welchTTest([1, 2], [3]) == nil)
        #expect(welchTTest([1, .nan], [1, 2]) == nil)
        let same = try #require(welchTTest([5, 5, 5], [5, 5]))
        #expect(same.pValue == 1 && same.statistic == 0 && same.degreesOfFreedom == nil)
        let apart = try #require(welchTTest([4, 4, 4], [5, 5]))
        #expect(apart.pValue == 0 && apart.statistic == -.infinity)
        // One side without spread: df is the other side's n - 1.
        let oneSided = try #require(welchTTest([10, 10, 10], [8, 9, 10, 11]))
        #expect(close(try #require(oneSided.degreesOfFreedom), 3))
    }

    /// (a, b, U of a, exact two-sided p) from `mannwhitneyu(method="exact")`.
    static let mannWhitneyCases: [([Double], [Double], Double, Double)] = [
        ([1, 2], [3, 4, 5], 0, 0.2),
        ([5, 6], [1, 2, 3, 4, 7], 8, 0.38095238095238093),
        ([2, 9], [1, 3, 4, 5, 6, 7, 8, 10], 8, 1.0),
        ([1.1, 2.2, 3.3], [4.4, 5.5, 6.6, 7.7], 0, 0.05714285714285714),
        ([10, 30], [20, 40], 1, 0.6666666666666666),
        ([1, 2], Array(stride(from: 3.0, through: 20, by: 1)), 0, 0.010526315789473684),
    ]

    @Test("Mann–Whitney U: exact distribution for small samples", arguments: mannWhitneyCases)
    func mannWhitneyExact(a: [Double], b: [Double], u: Double, p: Double) throws {
        let r = try #require(mannWhitneyUTest(a, b))
        #expect(r.method == .mannWhitney && r.exact)
        #expect(r.statistic == u)
        #expect(close(r.pValue, p, 1e-12), "p \(r.pValue) vs \(p)")
        // Swapping the samples changes U to n_a n_b - U, not p.
        let swapped = try #require(mannWhitneyUTest(b, a))
        #expect(swapped.statistic == Double(a.count * b.count) - u)
        #expect(close(swapped.pValue, p, 1e-12))
    }

    /// Ties take mid-ranks; p from enumerating every split of the pooled values.
    static let tiedCases: [([Double], [Double], Double, Double)] = [
        ([3, 5, 5], [1, 2, 3, 5], 9.5, 0.4),
        ([7, 7], [7, 8, 9], 1, 0.6),
        ([4, 4], [4, 4, 4], 3, 1),
        ([1, 2, 2, 3], [2, 3, 4, 4, 5], 2.5, 0.1111111111111111),
    ]

    @Test("Mann–Whitney U: exact with ties (mid-ranks)", arguments: tiedCases)
    func mannWhitneyTies(a: [Double], b: [Double], u: Double, p: Double) throws {
        let r = try #require(mannWhitneyUTest(a, b))
        #expect(r.exact)
        #expect(r.statistic == u)
        #expect(close(r.pValue, p, 1e-12), "p \(r.pValue) vs \(p)")
    }

    @Test("Mann–Whitney U: normal approximation for large samples")
    func mannWhitneyAsymptotic() throws {
        // mannwhitneyu(a, b, method="asymptotic", use_continuity=True): U 631, p 0.018042234979876722.
        let a: [Double] = [
            14.1, 4.9, 10.8, 8.9, 9.1, 9.6, 6.0, 9.5, 8.3, 16.6, 10.5, 9.3, 9.4, 8.7, 7.9, 9.2, 11.0, 9.5, 11.9, 9.6,
            10.0, 13.1, 11.1, 9.0, 9.6, 11.1, 13.9, 9.5, 9.5, 12.0, 8.2, 9.4, 11.8, 11.2, 10.2, 11.3, 4.3, 12.0, 8.1, 6.7,
        ]
        let b: [Double] = [
            11.6, 12.4, 10.1, 8.8, 11.1, 10.9, 13.8, 12.5, 11.4, 13.2, 10.6, 9.1, 12.2, 12.2, 10.6, 9.4, 11.5, 6.0, 12.4,
            12.0, 7.7, 11.1, 9.1, 12.5, 6.9, 9.2, 12.4, 13.3, 6.7, 10.0, 11.7, 9.8, 14.2, 8.6, 11.7, 8.9, 13.8, 11.0,
            10.3, 7.6, 14.4, 12.5, 12.5, 13.3, 11.7,
        ]
        let r = try #require(mannWhitneyUTest(a, b))
        #expect(!r.exact)
        #expect(r.statistic == 631)
        #expect(close(r.pValue, 0.018042234979876722, 1e-9), "p \(r.pValue)")
    }

    @Test("Mann–Whitney U: empty or non-finite samples give no test")
    func mannWhitneyEdges() {
        #expect(mannWhitneyUTest([], [1, 2]) == nil)
        #expect(mannWhitneyUTest([1], [.infinity]) == nil)
    }

    /// (m, n, 2 / C(m+n, m) capped at 1).
    static let smallestPCases: [(Int, Int, Double)] = [
        (1, 1, 1), (1, 5, 1.0 / 3), (2, 2, 1.0 / 3), (2, 3, 0.2), (2, 5, 2.0 / 21), (3, 3, 0.1), (5, 5, 2.0 / 252),
    ]

    @Test("smallest exact Mann–Whitney p for a sample size", arguments: smallestPCases)
    func smallestP(m: Int, n: Int, expected: Double) throws {
        #expect(close(mannWhitneySmallestPValue(m, n), expected, 1e-14))
        #expect(close(mannWhitneySmallestPValue(n, m), expected, 1e-14))
        // The extreme split reaches it.
        let low = (0..<m).map(Double.init)
        let high = (0..<n).map { Double($0 + m) }
        let r = try #require(mannWhitneyUTest(low, high))
        #expect(close(r.pValue, expected, 1e-12))
    }
}
