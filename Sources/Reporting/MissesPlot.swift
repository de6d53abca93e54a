import BenchResults
import BenchSpec

/// `misses.svg`: L2 cache misses per write (y) against effective L2
/// coverage (x, linear 0–100%), measured from QEMU's trace (mean over a
/// cell's traced slots, whisker: 95% CI over slots) next to the coverage
/// model `1 - c` (dashed, per series span). Nil when no slot was traced.
func missesSVG(_ set: ResultSet) -> String? {
    MissesPlot(set)?.render()
}

private struct MissesPlot {
    struct Point {
        var coverage: Double
        var mean: Double
        var ci: Double?
    }

    struct Series {
        var label: String
        var color: String
        var points: [Point]
        /// Span written over disk size: the model is `1 - c / span`.
        var span: Double
    }

    static let width = 900.0
    static let height = 560.0
    static let left = 80.0
    static let right = 600.0
    static let top = 76.0
    static let bottom = 480.0

    let title: String
    let series: [Series]

    init?(_ set: ResultSet) {
        let traced = set.records.filter { $0.slot?.cache != nil }
        guard !traced.isEmpty else { return nil }
        var built: [Series] = []
        for key in set.series {
            var points: [Point] = []
            var span = 1.0
            for c in set.cells(in: key) {
                guard let e = c.effective else { continue }
                let per = CellCacheCounters.points(traced.filter { $0.cellID == c.cellID }).map(\.l2)
                guard let stats = SampleStats(per) else { continue }
                let disk = Double(c.cell.geometry.diskSize.bytes)
                if disk > 0 { span = Double(c.cell.workload.span.bytes(of: c.cell.geometry.diskSize)) / disk }
                points.append(Point(coverage: min(100, e.l2CoveragePercent), mean: stats.mean, ci: stats.ci95))
            }
            guard !points.isEmpty else { continue }
            built.append(Series(label: key.label, color: plotPalette[built.count % plotPalette.count], points: points, span: span))
        }
        guard !built.isEmpty else { return nil }
        series = built
        title = "L2 cache misses per write against coverage" + (set.records.first.map { ": \($0.provenance.matrixName)" } ?? "")
    }

    func x(_ c: Double) -> Double { Self.left + c / 100 * (Self.right - Self.left) }
    func y(_ m: Double) -> Double { Self.bottom - m / 1.1 * (Self.bottom - Self.top) }

    func render() -> String {
        var s = SVGWriter()
        s.open(width: Self.width, height: Self.height, title: title)
        s.text(Self.width / 2, 28, title, size: 17, anchor: "middle", weight: "bold")
        s.text(
            Self.width / 2, 50, "measured: QEMU's qcow2 cache trace over the traced slots (whisker: 95% CI over slots); model: 1 − coverage",
            size: 12, anchor: "middle", fill: "#444444")
        for c in stride(from: 0.0, through: 100, by: 10) {
            s.line(x(c), Self.top, x(c), Self.bottom, stroke: c.truncatingRemainder(dividingBy: 50) == 0 ? "#cccccc" : "#eeeeee")
            s.line(x(c), Self.bottom, x(c), Self.bottom + 5, stroke: "#333333")
            s.text(x(c), Self.bottom + 19, fixed(c, 0) + "%", size: 11, anchor: "middle")
        }
        for m in stride(from: 0.0, through: 1.0, by: 0.2) {
            s.line(Self.left, y(m), Self.right, y(m), stroke: "#e4e4e4")
            s.line(Self.left - 5, y(m), Self.left, y(m), stroke: "#333333")
            s.text(Self.left - 9, y(m) + 4, fixed(m, 1), size: 11, anchor: "end")
        }
        s.add(
            "<rect x=\"\(fixed(Self.left, 1))\" y=\"\(fixed(Self.top, 1))\" width=\"\(fixed(Self.right - Self.left, 1))\" "
                + "height=\"\(fixed(Self.bottom - Self.top, 1))\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>")
        s.text((Self.left + Self.right) / 2, Self.bottom + 44, "Effective L2 cache coverage (% of the virtual disk)", size: 13, anchor: "middle")
        s.verticalText(24, (Self.top + Self.bottom) / 2, "L2 misses per write")
        // Model lines: 1 - c/span, reaching 0 where the cache maps the span.
        var spans: [Double] = []
        for sr in series where !spans.contains(sr.span) { spans.append(sr.span) }
        for span in spans {
            let full = min(100, span * 100)
            s.line(x(0), y(1), x(full), y(0), stroke: "#555555", width: 1.5, dash: "7 5")
            if full < 100 { s.line(x(full), y(0), x(100), y(0), stroke: "#555555", width: 1.5, dash: "7 5") }
        }
        for sr in series {
            s.add("<g stroke=\"\(sr.color)\" fill=\"\(sr.color)\">")
            for p in sr.points {
                if let ci = p.ci, ci > 0 {
                    let y1 = y(max(0, p.mean - ci))
                    let y2 = y(min(1.1, p.mean + ci))
                    s.add(
                        "<path d=\"M\(fixed(x(p.coverage), 1)) \(fixed(y1, 1))V\(fixed(y2, 1))M\(fixed(x(p.coverage) - 4, 1)) \(fixed(y1, 1))h8"
                            + "M\(fixed(x(p.coverage) - 4, 1)) \(fixed(y2, 1))h8\" fill=\"none\" stroke-width=\"1.2\"/>")
                }
                s.add("<circle cx=\"\(fixed(x(p.coverage), 1))\" cy=\"\(fixed(y(p.mean), 1))\" r=\"5\" stroke-width=\"1\"/>")
            }
            s.add("</g>")
        }
        var ly = Self.top + 4
        let lx = Self.right + 24
        s.text(lx, ly, "Legend", size: 13, weight: "bold")
        ly += 22
        s.line(lx, ly - 4, lx + 26, ly - 4, stroke: "#555555", width: 1.5, dash: "7 5")
        s.text(lx + 34, ly, "model: 1 − coverage", size: 11)
        s.text(lx + 34, ly + 14, "(uniform random writes, warm cache)", size: 10, fill: "#444444")
        ly += 36
        for sr in series {
            s.add("<circle cx=\"\(fixed(lx + 13, 1))\" cy=\"\(fixed(ly - 4, 1))\" r=\"5\" fill=\"\(sr.color)\"/>")
            let lines = wrap("measured: " + sr.label, width: 36)
            for (i, l) in lines.enumerated() { s.text(lx + 34, ly + Double(i) * 14, l, size: 11) }
            ly += 14 * Double(lines.count) + 10
        }
        s.add("</svg>")
        return s.text
    }
}
