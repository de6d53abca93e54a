/// A knob's figure when it has no time course to show: one horizontal bar
/// per compared cell, from 1 to its IOPS ratio against the group's
/// reference, with the 95% CI as a whisker, on a log axis (a ratio and its
/// inverse are equally far from 1). Rows in `KnobAnalysis` order, grouped
/// under the group's place when there are several groups.
func ratioBarsSVG(_ analysis: KnobAnalysis, subtitle: String) -> String {
    RatioBars(analysis, subtitle: subtitle).render()
}

private struct RatioBars {
    struct Row {
        var label: String
        var header: Bool
        var ratio: CellRatio?
    }

    static let width = 900.0
    static let rowHeight = 30.0
    static let top = 82.0
    static let valueWidth = 190.0

    let title: String
    let subtitle: String
    let rows: [Row]
    let left: Double
    let lo: Double
    let hi: Double

    init(_ a: KnobAnalysis, subtitle: String) {
        title = "\(a.knob.title): IOPS against the reference"
        var rows: [Row] = []
        for g in a.groups {
            if a.groups.count > 1 { rows.append(Row(label: g.place, header: true, ratio: nil)) }
            let ref = a.knob.setting(g.reference.cell)
            for c in g.cells.dropFirst() {
                rows.append(Row(label: "\(a.knob.setting(c.cell)) vs \(ref)", header: false, ratio: g.ratios[c.cellID]))
            }
        }
        self.rows = rows
        let methods = Set(rows.compactMap { $0.ratio?.method })
        let how = methods == [.paired] ? "paired blocks" : methods == [.welch] ? "Welch, unpaired runs" : "paired or Welch"
        self.subtitle = subtitle + "; bar: IOPS ratio, whisker: 95% CI (\(how)); log scale"
        let widest = rows.map { textWidth($0.label, size: $0.header ? 12 : 12) }.max() ?? 80
        left = min(360, max(150, widest + 30))
        // Domain: every CI and 1, padded, within 1/100...100.
        let lows = rows.compactMap { $0.ratio?.low }.filter { $0 > 0 }
        let highs = rows.compactMap { $0.ratio?.high }
        lo = max(0.01, min(0.8, lows.min() ?? 0.8) / 1.15)
        hi = min(100, max(1.25, highs.max() ?? 1.25) * 1.15)
    }

    var right: Double { Self.width - Self.valueWidth }
    var height: Double { Self.top + Double(max(1, rows.count)) * Self.rowHeight + 62 }
    var bottom: Double { height - 62 }

    func x(_ v: Double) -> Double {
        let t = (decimalLog(min(max(v, lo), hi)) - decimalLog(lo)) / (decimalLog(hi) - decimalLog(lo))
        return left + t * (right - left)
    }

    var ticks: [Double] {
        let all = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50, 100]
        let inside = all.filter { $0 >= lo && $0 <= hi }
        if inside.count <= 9 { return inside }
        return inside.filter { [0.01, 0.1, 0.5, 1, 2, 10, 100].contains($0) }
    }

    func render() -> String {
        var s = SVGWriter()
        s.open(width: Self.width, height: height, title: title)
        s.text(Self.width / 2, 28, title, size: 17, anchor: "middle", weight: "bold")
        s.text(Self.width / 2, 50, subtitle, size: 12, anchor: "middle", fill: "#444444")
        for t in ticks {
            s.line(x(t), Self.top - 6, x(t), bottom, stroke: t == 1 ? "#333333" : "#e0e0e0", width: t == 1 ? 1.5 : 1)
            s.text(x(t), bottom + 18, tickText(t), size: 11, anchor: "middle")
        }
        s.line(left, bottom, right, bottom, stroke: "#333333")
        s.text((left + right) / 2, bottom + 42, "IOPS ratio against the reference (1 = no change)", size: 13, anchor: "middle")
        s.text(right + 12, Self.top - 10, "ratio (95% CI)", size: 11, weight: "bold")
        for (i, r) in rows.enumerated() {
            let cy = Self.top + (Double(i) + 0.5) * Self.rowHeight
            if r.header {
                s.text(14, cy + 4, r.label, size: 12, weight: "bold")
                continue
            }
            s.text(left - 10, cy + 4, r.label, size: 12, anchor: "end")
            guard let q = r.ratio else {
                s.text(x(1) + 8, cy + 4, "too few runs for an interval", size: 11, fill: "#666666")
                continue
            }
            let color = !q.differs ? "#999999" : q.ratio > 1 ? plotPalette[0] : plotPalette[1]
            let x0 = min(x(1), x(q.ratio))
            s.rect(x0, cy - 8, abs(x(q.ratio) - x(1)), 16, fill: color + "55", stroke: color)
            let xl = x(q.low)
            let xh = x(q.high)
            s.line(xl, cy, xh, cy, stroke: "#222222", width: 1.5)
            // Caps, or arrows where the interval leaves the axis.
            if q.low < lo {
                s.add("<path d=\"M\(fixed(xl, 1)) \(fixed(cy, 1))l7 -4v8z\" fill=\"#222222\"/>")
            } else {
                s.line(xl, cy - 5, xl, cy + 5, stroke: "#222222", width: 1.5)
            }
            if q.high > hi {
                s.add("<path d=\"M\(fixed(xh, 1)) \(fixed(cy, 1))l-7 -4v8z\" fill=\"#222222\"/>")
            } else {
                s.line(xh, cy - 5, xh, cy + 5, stroke: "#222222", width: 1.5)
            }
            s.add("<circle cx=\"\(fixed(x(q.ratio), 1))\" cy=\"\(fixed(cy, 1))\" r=\"3.5\" fill=\"#222222\"/>")
            s.text(
                right + 12, cy + 4, "\(fixed(q.ratio, 2)) (\(fixed(q.low, 2))–\(fixed(q.high, 2)))", size: 12,
                weight: q.differs ? "bold" : nil)
        }
        if rows.isEmpty {
            s.text((left + right) / 2, Self.top + 15, "No compared cells", size: 13, anchor: "middle", fill: "#666666")
        }
        s.add("</svg>")
        return s.text
    }

    func tickText(_ t: Double) -> String {
        t >= 1 ? fixed(t, t == t.rounded() ? 0 : 1) : fixed(t, t < 0.1 ? 2 : 1)
    }
}
