import BenchSpec
import Qcow2Geometry
import Testing

@testable import Reporting

@Suite("Docs results table")
struct DocsTableTests {
    static let document = """
        # Project

        Intro text.

        <!-- bench:results:begin -->
        stale table, typed by hand
        <!-- bench:results:end -->

        Read it as: ...
        """

    @Test("the fixture's table: references first, then coverage ascending")
    func table() throws {
        let text = docsResultsTable(Fixture.set, plotPath: "results/reference/coverage.svg")
        try Snapshot.check(text, named: "docs-table.md")
        #expect(text.hasSuffix("\n![IOPS against L2 coverage](results/reference/coverage.svg)\n"))
    }

    @Test("a single series has no Series column")
    func singleSeries() {
        let set = Runs.set([
            .init(cell: Fixture.null, iops: [19000, 19100]),
            .init(cell: Runs.cell(.kib(256)), iops: [9000, 9100]),
            .init(cell: Runs.cell(.mib(2)), iops: [18000, 18100]),
        ])
        let lines = docsResultsTable(set, plotPath: "coverage.svg").split(separator: "\n")
        #expect(lines.first == "| L2 setting | Effective L2 | L2 coverage | IOPS mean ± CI95 (n) | vs best | vs null-co ceiling |")
        #expect(lines[1] == "|---:|---:|---:|---:|---:|---:|")
        #expect(lines[2].hasPrefix("| null-co | - | - | 19,050 ± "))
        #expect(lines[3].hasPrefix("| 256K | 256 KiB (4 KiB entries) | 12.50% | 9,050 ± "))
        #expect(lines[3].hasSuffix(" | 50.1% | 47.5% |"))
        #expect(lines[4].hasPrefix("| 2M | 2 MiB (64 KiB entries) | 100.00% | 18,050 ± "))
    }

    @Test("replacing the marked section keeps the rest and is idempotent")
    func replaceIdempotent() throws {
        let table = docsResultsTable(Fixture.set, plotPath: "coverage.svg")
        let once = try replacingResultsSection(in: Self.document, with: table)
        #expect(once.hasPrefix("# Project\n\nIntro text.\n\n<!-- bench:results:begin -->\n| "))
        #expect(once.hasSuffix("](coverage.svg)\n<!-- bench:results:end -->\n\nRead it as: ..."))
        #expect(!once.contains("stale table"))
        let twice = try replacingResultsSection(in: once, with: table)
        #expect(twice == once)
    }

    @Test("missing, repeated or swapped markers are errors naming the marker")
    func markerErrors() {
        #expect(throws: DocsMarkerError.missing(DocsMarkers.results.begin, .results)) {
            try replacingResultsSection(in: "text\n<!-- bench:results:end -->\n", with: "x\n")
        }
        #expect(throws: DocsMarkerError.missing(DocsMarkers.results.end, .results)) {
            try replacingResultsSection(in: "<!-- bench:results:begin -->\n", with: "x\n")
        }
        #expect(throws: DocsMarkerError.repeated(DocsMarkers.results.begin)) {
            try replacingResultsSection(in: Self.document + "\n<!-- bench:results:begin -->\n", with: "x\n")
        }
        #expect(throws: DocsMarkerError.endBeforeBegin(.results)) {
            try replacingResultsSection(in: "<!-- bench:results:end -->\n<!-- bench:results:begin -->\n", with: "x\n")
        }
        #expect(DocsMarkerError.missing(DocsMarkers.results.begin, .results).description.hasPrefix("no <!-- bench:results:begin --> marker"))
        #expect(!DocsMarkerError.missing(DocsMarkers.results.end, .results).description.contains("\n"))
    }

    @Test("a named section is filled between its own markers and leaves the others alone")
    func namedSections() throws {
        let markers = try #require(DocsMarkers(validating: "cache-size"))
        let doc = Self.document + "\n<!-- bench:cache-size:begin -->\nold\n<!-- bench:cache-size:end -->\n"
        let out = try replacingResultsSection(in: doc, with: "new\n", markers: markers)
        #expect(out == Self.document + "\n<!-- bench:cache-size:begin -->\nnew\n<!-- bench:cache-size:end -->\n")
        #expect(throws: DocsMarkerError.missing("<!-- bench:other:begin -->", DocsMarkers(section: "other"))) {
            try replacingResultsSection(in: doc, with: "x\n", markers: DocsMarkers(section: "other"))
        }
        #expect(DocsMarkers(validating: "Bad Name") == nil)
        #expect(DocsMarkers(validating: "a-->b") == nil)
        #expect(DocsMarkers(validating: "") == nil)
    }

    @Test(
        "relative paths for links",
        arguments: [
            ("/repo", "/repo/results/reference/coverage.svg", "results/reference/coverage.svg"),
            ("/repo/docs", "/repo/results/a/coverage.svg", "../results/a/coverage.svg"),
            ("/repo/results/a", "/repo/results/a/coverage.svg", "coverage.svg"),
            ("/", "/x/y.svg", "x/y.svg"),
            ("/a/b/c", "/d/e.svg", "../../../d/e.svg"),
            ("/repo/res", "/repo/results/x.svg", "../results/x.svg"),
        ])
    func relative(base: String, target: String, expected: String) {
        #expect(relativePath(from: base, to: target) == expected)
    }
}
