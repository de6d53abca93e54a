// The results table in the project's docs, generated so it is never typed by
// hand: `bench report DIR --update-docs FILE` puts it between two markers.

/// Marks where one generated table goes in a Markdown file:
/// `<!-- bench:SECTION:begin -->` and `<!-- bench:SECTION:end -->`. A
/// document can hold several sections, each filled from its own results
/// directory (`bench report DIR --update-docs FILE --docs-section SECTION`).
public struct DocsMarkers: Hashable, Sendable {
    public let section: String
    public var begin: String { "<!-- bench:\(section):begin -->" }
    public var end: String { "<!-- bench:\(section):end -->" }

    /// The README's main table.
    public static let results = DocsMarkers(section: "results")

    /// nil unless `section` is 1 to 40 lowercase letters, digits and `-`:
    /// safe inside an HTML comment and easy to grep.
    public init?(validating section: String) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard (1...40).contains(section.count), section.allSatisfy(allowed.contains) else { return nil }
        self.section = section
    }

    init(section: String) { self.section = section }
}

/// The compact coverage table for docs, then a link to the plot at
/// `plotPath` (relative to the document). Rows: the reference cells, then
/// each series (in `ResultSet.series` order) with its cells by coverage
/// ascending, so a series reads as one sweep.
///
/// Columns: L2 setting, effective L2 (with entry size), coverage, IOPS mean
/// ± CI95 (n), then for paired runs the IOPS ratio against the series'
/// largest cache and against null-co, each with its CI95 (else vs best and
/// vs the null-co ceiling, in percent). A leading *Series* column
/// appears only when the set holds more than one series (or reference cells
/// of several disk sizes), so the common single-sweep table stays compact.
public func docsResultsTable(_ set: ResultSet, plotPath: String) -> String {
    let manySeries = set.series.count > 1
    let manyWorkloads = Set(set.series.map(\.workload)).count > 1
    let manyHostIO = Set(set.series.map(\.hostIO)).count > 1
    let referenceDisks = Set(set.referenceCells.map(\.cell.geometry.diskSize))
    let showSeries = manySeries || referenceDisks.count > 1
    // Cells measured in shared guests are shown as paired ratios with CIs.
    let paired = set.paired.slots > 0
    var rows: [[String]] = []
    for c in set.referenceCells + set.series.flatMap({ set.cells(in: $0) }) {
        var row: [String] = []
        if showSeries {
            if let s = c.series {
                var label = s.label
                if manyWorkloads { label += "; " + s.workloadLabel }
                if manyHostIO { label += "; " + s.hostIOLabel }
                row.append(label)
            } else {
                row.append("\(c.cell.geometry.diskSize) disk")
            }
        }
        let e = c.effective
        row += [
            settingText(c),
            e.map { "\($0.l2CacheBytes.exactBinary) (\($0.l2EntrySize.exactBinary) entries)" } ?? "-",
            e.map { fixed($0.l2CoveragePercent, 2) + "%" } ?? "-",
            iopsText(c),
        ]
        if paired {
            let ref = set.paired.vsReference[c.cellID]
            row += [
                ref.map { _ in ratioText(ref) } ?? (c.kind == .qcow2 ? "reference" : "-"),
                ratioText(set.paired.vsNull[c.cellID]),
            ]
        } else {
            row += [c.vsBestPercent.map { fixed($0, 1) + "%" } ?? "-", c.vsCeilingPercent.map { fixed($0, 1) + "%" } ?? "-"]
        }
        rows.append(row)
    }
    var header = ["L2 setting", "Effective L2", "L2 coverage", "IOPS mean ± CI95 (n)"]
    header += paired
        ? ["IOPS ratio vs largest cache (CI95)", "vs null-co (CI95)"]
        : ["vs best", "vs null-co ceiling"]
    if showSeries { header.insert("Series", at: 0) }
    var md = MarkdownWriter()
    md.table(header, header.map { $0 == "Series" ? "l" : "r" }, rows)
    md.blank()
    md.line("![IOPS against L2 coverage](\(plotPath))")
    return md.text
}

/// `128K`, `default`, `cache-size 1M`; reference cells by what they are.
private func settingText(_ c: CellSummary) -> String {
    switch c.kind {
    case .qcow2: c.cell.cache.cacheSize.value.map { "cache-size \($0)" } ?? c.cell.cache.l2CacheSize.description
    case .null: "null-co"
    case .raw: "raw image"
    }
}

/// Why a document cannot take the generated results.
public enum DocsMarkerError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing(String, DocsMarkers)
    case repeated(String)
    case endBeforeBegin(DocsMarkers)

    public var description: String {
        switch self {
        case .missing(let marker, let pair):
            "no \(marker) marker; put \(pair.begin) and \(pair.end) on their own lines where the results go"
        case .repeated(let marker): "\(marker) appears more than once; keep one pair of markers"
        case .endBeforeBegin(let pair): "\(pair.end) comes before \(pair.begin)"
        }
    }
}

/// `document` with everything between the markers replaced by `content`
/// (which should end with a newline): the begin marker, a line break,
/// `content`, the end marker. Text outside the markers is kept byte for
/// byte, so applying the same content twice changes nothing.
public func replacingResultsSection(
    in document: String, with content: String, markers: DocsMarkers = .results
) throws(DocsMarkerError) -> String {
    let begins = ranges(of: markers.begin, in: document)
    let ends = ranges(of: markers.end, in: document)
    guard let begin = begins.first else { throw .missing(markers.begin, markers) }
    guard let end = ends.first else { throw .missing(markers.end, markers) }
    guard begins.count == 1 else { throw .repeated(markers.begin) }
    guard ends.count == 1 else { throw .repeated(markers.end) }
    guard begin.upperBound <= end.lowerBound else { throw .endBeforeBegin(markers) }
    return String(document[..<begin.upperBound]) + "\n" + content + String(document[end.lowerBound...])
}

/// Non-overlapping occurrences of `needle`, in order.
private func ranges(of needle: String, in text: String) -> [Range<String.Index>] {
    var out: [Range<String.Index>] = []
    var start = text.startIndex
    while start < text.endIndex, let r = text[start...].firstRange(of: needle) {
        out.append(r)
        start = r.upperBound
    }
    return out
}

/// The path of `target` relative to the directory `base`, both absolute
/// and normalized (no `.`, `..` or doubled slashes): `relativePath(from:
/// "/repo/docs", to: "/repo/results/a.svg") == "../results/a.svg"`. Used for
/// links in documents, so it always uses `/`.
public func relativePath(from base: String, to target: String) -> String {
    let b = base.split(separator: "/")
    let t = target.split(separator: "/")
    var common = 0
    while common < b.count, common < t.count, b[common] == t[common] { common += 1 }
    let up = Array(repeating: "..", count: b.count - common)
    let down = t[common...].map(String.init)
    let parts = up + down
    return parts.isEmpty ? "." : parts.joined(separator: "/")
}
