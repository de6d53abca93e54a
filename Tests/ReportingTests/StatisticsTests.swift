import Testing

@testable import Reporting

@Suite("Statistics")
struct StatisticsTests {
    @Test("mean, sample stdev and t-based CI of 1...5")
    func knownValues() throws {
        let s = try #require(SampleStats([1, 2, 3, 4, 5]))
        #expect(s.count == 5)
        #expect(s.mean == 3)
        #expect(abs(s.stdev - 1.581_138_8) < 1e-6)
        let ci = try #require(s.ci95)
        #expect(abs(ci - 1.9632) < 1e-4)
        #expect(s.min == 1 && s.max == 5 && s.median == 3)
    }

    @Test("order of the input does not matter; even counts average the middle pair")
    func medianEven() throws {
        let s = try #require(SampleStats([4, 1, 3, 2]))
        #expect(s.median == 2.5)
        #expect(s.min == 1 && s.max == 4)
        #expect(abs(s.stdev - 1.290_994_4) < 1e-6)
        // t(3) = 3.1824: 3.1824 * 1.2910 / 2
        #expect(abs((s.ci95 ?? 0) - 2.054_27) < 1e-4)
    }

    @Test("one value: stdev 0, no confidence interval")
    func single() throws {
        let s = try #require(SampleStats([18_000]))
        #expect(s.count == 1 && s.mean == 18_000 && s.stdev == 0 && s.median == 18_000)
        #expect(s.ci95 == nil)
        #expect(s.ci95Percent == nil)
    }

    @Test("identical values: zero spread, zero-width interval")
    func identical() throws {
        let s = try #require(SampleStats([7, 7, 7]))
        #expect(s.stdev == 0 && s.ci95 == 0)
    }

    @Test("no values or non-finite values give no statistics")
    func invalid() {
        #expect(SampleStats([]) == nil)
        #expect(SampleStats([1, .nan]) == nil)
        #expect(SampleStats([1, .infinity]) == nil)
    }

    @Test("t quantiles: table values", arguments: [
        (1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (10, 2.2281), (29, 2.0452), (30, 2.0423),
    ])
    func tTable(df: Int, expected: Double) {
        #expect(abs(tQuantile975(df: df) - expected) < 1e-9)
    }

    @Test("t quantiles beyond the table approach 1.96", arguments: [
        // Reference values: scipy.stats.t.ppf(0.975, df).
        (35, 2.0301), (40, 2.0211), (50, 2.0086), (60, 2.0003), (90, 1.9867), (120, 1.9799), (1000, 1.9623),
    ])
    func tInterpolated(df: Int, expected: Double) {
        #expect(abs(tQuantile975(df: df) - expected) < 1e-3)
    }

    @Test("t quantiles decrease with df and are NaN below 1")
    func tShape() {
        #expect(tQuantile975(df: 0).isNaN)
        #expect(tQuantile975(df: -3).isNaN)
        var previous = Double.infinity
        for df in 1...500 {
            let t = tQuantile975(df: df)
            #expect(t < previous && t > 1.96, "df \(df)")
            previous = t
        }
    }
}

@Suite("Number formatting")
struct FormattingTests {
    @Test func fixedDecimals() {
        #expect(fixed(1234.56, 1) == "1234.6")
        #expect(fixed(0.05, 2) == "0.05")
        #expect(fixed(2, 2) == "2.00")
        #expect(fixed(-0.004, 2) == "0.00")
        #expect(fixed(-1.25, 1) == "-1.3")
        #expect(fixed(18_000.0, 0) == "18000")
        #expect(fixed(Double.nan, 1) == "")
        #expect(fixed(nil as Double?, 1) == "")
    }

    @Test func grouping() {
        #expect(grouped(18_234.4) == "18,234")
        #expect(grouped(999) == "999")
        #expect(grouped(1_000_000) == "1,000,000")
        #expect(grouped(-1234) == "-1,234")
    }

    @Test func log10Values() {
        #expect(decimalLog(100) == 2)
        #expect(decimalLog(0.1) == -1)
        #expect(abs(decimalLog(2) - 0.301_029_995_663_981_2) < 1e-14)
        #expect(abs(decimalLog(6.25) - 0.795_880_017_344_075_2) < 1e-14)
    }

    @Test func escaping() {
        #expect(csvField("plain") == "plain")
        #expect(csvField("a,b") == "\"a,b\"")
        #expect(csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(csvField("two\nlines") == "\"two\nlines\"")
        #expect(xmlEscaped("a < b & \"c\" > 'd'") == "a &lt; b &amp; &quot;c&quot; &gt; &apos;d&apos;")
        #expect(markdownCell("a|b\nc") == "a\\|b c")
        #expect(shellQuoted("file.filename=/tmp/x") == "file.filename=/tmp/x")
        #expect(shellQuoted("console=ttyS0 quiet") == "'console=ttyS0 quiet'")
        #expect(shellQuoted("it's") == "'it'\\''s'")
    }
}
