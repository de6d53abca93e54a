import BenchSpec
import Qcow2Geometry

/// `coverage.svg`: mean IOPS (y, linear from 0) against effective L2 cache
/// coverage (x, percent of the virtual disk, log10 scale with ticks at 1, 2
/// and 5 per decade), one line per series (`ResultSet.series` order; colour
/// and marker by position), 95% confidence error bars, the knee of each
/// series ringed, and the `null-co` ceiling and raw-image cells as dashed
/// horizontal lines. Hand-written SVG 1.1: explicit width, height and viewBox,
/// sans-serif text, all text escaped, coordinates with one decimal, so the
/// output is valid XML and byte-for-byte reproducible.
public func coverageSVG(_ set: ResultSet) -> String {
    CoveragePlot(set).render()
}

private struct PlotPoint {
    let coverage: Double
    let mean: Double
    let ci: Double?
    let isKnee: Bool
}

private struct PlotSeries {
    let label: [String]
    let points: [PlotPoint]
    let color: String
    let marker: Int
}

private struct ReferenceLine {
    let label: String
    let mean: Double
    let dash: String
    let color: String
}

private struct CoveragePlot {
    // Canvas and plot area, px.
    static let width = 980.0
    static let height = 600.0
    static let left = 90.0
    static let right = 650.0
    static let top = 76.0
    static let bottom = 520.0
    static let legendX = 676.0

    /// Okabe-Ito colours (distinguishable with common colour-vision
    /// deficiencies), yellow left out for contrast on white.
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    static let shapeCount = 5

    let title: String
    let subtitle: String
    let series: [PlotSeries]
    let references: [ReferenceLine]
    let xDecades: (lo: Int, hi: Int)
    let yTop: Double
    let yStep: Double
    let noSweep: Bool

    init(_ set: ResultSet) {
        let first = set.records.first?.provenance
        title = "IOPS against effective L2 cache coverage" + (first.map { ": \($0.matrixName)" } ?? "")
        var sub: [String] = []
        if let p = first { sub.append("QEMU \(p.qemuVersion.split(separator: " ").first ?? ""), \(p.accel)") }
        var workloads: [String] = []
        for c in set.cells where !workloads.contains(workloadDescription(c.cell.workload)) {
            workloads.append(workloadDescription(c.cell.workload))
        }
        if workloads.count == 1, let w = workloads.first { sub.append(w) }
        sub.append("error bars: 95% confidence interval of the mean")
        subtitle = sub.joined(separator: "; ")

        // Without a sweep (every series a single point) the points would
        // pile up at one coverage and say nothing: the plot says so instead.
        let keys = sweptSeries(set).isEmpty ? [] : set.series
        noSweep = sweptSeries(set).isEmpty && !set.series.isEmpty
        let manyWorkloads = Set(keys.map(\.workload)).count > 1
        let manyHostIO = Set(keys.map(\.hostIO)).count > 1
        var built: [PlotSeries] = []
        for (i, key) in keys.enumerated() {
            // A single point is no knee: only swept series get the ring.
            let knee = set.cells(in: key).filter { $0.iops != nil }.count >= 2 ? set.knee(of: key)?.cell.cellID : nil
            let points = set.cells(in: key).compactMap { c -> PlotPoint? in
                guard let s = c.iops, let e = c.effective else { return nil }
                return PlotPoint(
                    coverage: max(e.l2CoveragePercent, 1e-6), mean: s.mean, ci: s.ci95, isKnee: c.cellID == knee)
            }
            guard !points.isEmpty else { continue }
            var label = [key.label]
            var extra: [String] = []
            if manyWorkloads { extra.append(key.workloadLabel) }
            if manyHostIO { extra.append(key.hostIOLabel) }
            if !extra.isEmpty { label.append(extra.joined(separator: "; ")) }
            built.append(
                PlotSeries(
                    label: label, points: points, color: Self.palette[i % Self.palette.count],
                    marker: i % (Self.shapeCount * 2)))
        }
        series = built

        var refs: [ReferenceLine] = []
        let manyDisks = Set(set.referenceCells.map(\.cell.geometry.diskSize)).count > 1
        for c in set.referenceCells {
            guard let s = c.iops else { continue }
            let disk = manyDisks ? " (\(c.cell.geometry.diskSize) disk)" : ""
            switch c.kind {
            case .null:
                refs.append(
                    ReferenceLine(
                        label: "null-co ceiling\(disk): \(grouped(s.mean)) IOPS", mean: s.mean, dash: "8 5",
                        color: "#333333"))
            case .raw:
                refs.append(
                    ReferenceLine(
                        label: "raw image\(disk): \(grouped(s.mean)) IOPS", mean: s.mean, dash: "3 3", color: "#777777"))
            case .qcow2: break
            }
        }
        references = refs

        // x: whole decades around the data; 0.1% to 100% when there is none.
        let coverages = built.flatMap { $0.points.map(\.coverage) }
        if let lo = coverages.min(), let hi = coverages.max() {
            var dlo = Self.decadeFloor(lo)
            var dhi = Self.decadeCeil(hi)
            if dhi <= dlo { dhi = dlo + 1 }
            if dhi - dlo < 2 { dlo = dhi - 2 }
            xDecades = (dlo, dhi)
        } else {
            xDecades = (-1, 2)
        }

        // y: from 0 to a round number above every mean + interval.
        let tops = built.flatMap { $0.points.map { $0.mean + ($0.ci ?? 0) } } + refs.map(\.mean)
        let maxValue = tops.max() ?? 0
        let (step, top) = Self.niceAxis(maxValue)
        yStep = step
        yTop = top
    }

    /// Largest integer d with 10^d <= v.
    static func decadeFloor(_ v: Double) -> Int {
        var d = 0
        while pow10(d) > v { d -= 1 }
        while pow10(d + 1) <= v { d += 1 }
        return d
    }

    /// Smallest integer d with 10^d >= v.
    static func decadeCeil(_ v: Double) -> Int {
        let d = decadeFloor(v)
        return pow10(d) >= v ? d : d + 1
    }

    static func pow10(_ e: Int) -> Double {
        var r = 1.0
        if e >= 0 { for _ in 0..<e { r *= 10 } } else { for _ in 0..<(-e) { r /= 10 } }
        return r
    }

    /// A 1-2-5 step giving about five intervals, and the first multiple of it
    /// at or above 105% of `maxValue`.
    static func niceAxis(_ maxValue: Double) -> (step: Double, top: Double) {
        guard maxValue > 0, maxValue.isFinite else { return (200, 1000) }
        let raw = maxValue * 1.05 / 5
        let mag = pow10(decadeFloor(raw))
        let norm = raw / mag
        let step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag
        var top = step
        while top < maxValue * 1.05 { top += step }
        return (step, top)
    }

    func x(_ coverage: Double) -> Double {
        let lo = Double(xDecades.lo)
        let hi = Double(xDecades.hi)
        let t = (decimalLog(coverage) - lo) / (hi - lo)
        return Self.left + t * (Self.right - Self.left)
    }

    func y(_ iops: Double) -> Double {
        Self.bottom - iops / yTop * (Self.bottom - Self.top)
    }

    func render() -> String {
        var s = SVGWriter()
        let w = fixed(Self.width, 0)
        let h = fixed(Self.height, 0)
        s.add(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(w)\" height=\"\(h)\" "
                + "viewBox=\"0 0 \(w) \(h)\" font-family=\"sans-serif\" font-size=\"12\">")
        s.add("<title>\(xmlEscaped(title))</title>")
        s.add("<rect x=\"0\" y=\"0\" width=\"\(w)\" height=\"\(h)\" fill=\"#ffffff\"/>")
        s.text(Self.width / 2, 28, title, size: 17, anchor: "middle", weight: "bold")
        s.text(Self.width / 2, 50, subtitle, size: 12, anchor: "middle", fill: "#444444")
        grid(&s)
        axes(&s)
        // Reference labels sit at the left end (low coverage is where the
        // data is lowest); a label that would collide with the one above it
        // goes under its line instead.
        var lastLabelY = -Double.infinity
        for r in references.sorted(by: { $0.mean > $1.mean }) {
            let py = y(r.mean)
            let labelY = py - 5 - lastLabelY < 13 ? py + 14 : py - 5
            reference(r, labelY: labelY, &s)
            lastLabelY = labelY
        }
        for sr in series { plot(sr, &s) }
        if noSweep {
            s.text(
                (Self.left + Self.right) / 2, (Self.top + Self.bottom) / 2,
                "No series varies the L2 cache: each has a single point.", size: 14, anchor: "middle", fill: "#666666")
            s.text(
                (Self.left + Self.right) / 2, (Self.top + Self.bottom) / 2 + 20, "See report.md for the knobs it compares.",
                size: 13, anchor: "middle", fill: "#666666")
        } else if series.isEmpty && references.isEmpty {
            s.text(
                (Self.left + Self.right) / 2, (Self.top + Self.bottom) / 2, "No successful runs to plot", size: 14,
                anchor: "middle", fill: "#666666")
        }
        legend(&s)
        s.add("</svg>")
        return s.text
    }

    /// Tick values of the x axis: (coverage, is a decade).
    var xTicks: [(value: Double, major: Bool, decimals: Int)] {
        var out: [(Double, Bool, Int)] = []
        for d in xDecades.lo...xDecades.hi {
            for m in [1.0, 2.0, 5.0] {
                if d == xDecades.hi && m > 1 { continue }
                out.append((m * Self.pow10(d), m == 1, max(0, -d)))
            }
        }
        return out
    }

    /// y tick values: 0, step, 2 step, … up to the top of the axis.
    var yTicks: [Double] {
        let n = Int((yTop / yStep).rounded())
        return (0...max(1, n)).map { Double($0) * yStep }
    }

    func grid(_ s: inout SVGWriter) {
        for t in xTicks {
            let px = fixed(x(t.value), 1)
            s.add(
                "<line x1=\"\(px)\" y1=\"\(fixed(Self.top, 1))\" x2=\"\(px)\" y2=\"\(fixed(Self.bottom, 1))\" "
                    + "stroke=\"\(t.major ? "#cccccc" : "#eeeeee")\" stroke-width=\"1\"/>")
        }
        for v in yTicks.dropFirst() {
            let py = fixed(y(v), 1)
            s.add(
                "<line x1=\"\(fixed(Self.left, 1))\" y1=\"\(py)\" x2=\"\(fixed(Self.right, 1))\" y2=\"\(py)\" "
                    + "stroke=\"#e4e4e4\" stroke-width=\"1\"/>")
        }
    }

    func axes(_ s: inout SVGWriter) {
        let l = fixed(Self.left, 1)
        let t = fixed(Self.top, 1)
        let b = fixed(Self.bottom, 1)
        s.add(
            "<rect x=\"\(l)\" y=\"\(t)\" width=\"\(fixed(Self.right - Self.left, 1))\" "
                + "height=\"\(fixed(Self.bottom - Self.top, 1))\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>")
        // x ticks: label every tick when there are few decades, else decades only.
        let labelMinor = xDecades.hi - xDecades.lo <= 4
        for tick in xTicks {
            let px = x(tick.value)
            let len = tick.major ? 6.0 : 3.5
            s.add(
                "<line x1=\"\(fixed(px, 1))\" y1=\"\(b)\" x2=\"\(fixed(px, 1))\" y2=\"\(fixed(Self.bottom + len, 1))\" "
                    + "stroke=\"#333333\" stroke-width=\"1\"/>")
            if tick.major || labelMinor {
                s.text(
                    px, Self.bottom + 20, fixed(tick.value, tick.decimals) + "%", size: tick.major ? 12 : 10,
                    anchor: "middle", fill: tick.major ? "#000000" : "#555555")
            }
        }
        for v in yTicks {
            let py = y(v)
            s.add(
                "<line x1=\"\(fixed(Self.left - 6, 1))\" y1=\"\(fixed(py, 1))\" x2=\"\(l)\" y2=\"\(fixed(py, 1))\" "
                    + "stroke=\"#333333\" stroke-width=\"1\"/>")
            s.text(Self.left - 10, py + 4, yStep >= 1 ? grouped(v) : fixed(v, 2), size: 11, anchor: "end")
        }
        s.text(
            (Self.left + Self.right) / 2, Self.bottom + 48,
            "Effective L2 cache coverage (% of the virtual disk, log scale)", size: 13, anchor: "middle")
        let cy = (Self.top + Self.bottom) / 2
        s.add(
            "<text x=\"22\" y=\"\(fixed(cy, 1))\" font-size=\"13\" text-anchor=\"middle\" "
                + "transform=\"rotate(-90 22 \(fixed(cy, 1)))\">IOPS (I/O operations per second)</text>")
    }

    func reference(_ ref: ReferenceLine, labelY: Double, _ s: inout SVGWriter) {
        let py = y(ref.mean)
        s.add(
            "<line x1=\"\(fixed(Self.left, 1))\" y1=\"\(fixed(py, 1))\" x2=\"\(fixed(Self.right, 1))\" "
                + "y2=\"\(fixed(py, 1))\" stroke=\"\(ref.color)\" stroke-width=\"1.5\" stroke-dasharray=\"\(ref.dash)\"/>")
        s.text(Self.left + 6, labelY, ref.label, size: 11, fill: ref.color)
    }

    func plot(_ sr: PlotSeries, _ s: inout SVGWriter) {
        s.add("<g stroke=\"\(sr.color)\" fill=\"\(sr.color)\">")
        if sr.points.count > 1 {
            let pts = sr.points.map { "\(fixed(x($0.coverage), 1)),\(fixed(y($0.mean), 1))" }.joined(separator: " ")
            s.add("<polyline points=\"\(pts)\" fill=\"none\" stroke-width=\"1.8\"/>")
        }
        for p in sr.points {
            let px = x(p.coverage)
            if let ci = p.ci, ci > 0 {
                let y1 = fixed(y(max(0, p.mean - ci)), 1)
                let y2 = fixed(y(p.mean + ci), 1)
                s.add(
                    "<path d=\"M\(fixed(px, 1)) \(y1)V\(y2)M\(fixed(px - 4, 1)) \(y1)H\(fixed(px + 4, 1))"
                        + "M\(fixed(px - 4, 1)) \(y2)H\(fixed(px + 4, 1))\" fill=\"none\" stroke-width=\"1.2\"/>")
            }
        }
        for p in sr.points {
            s.add(marker(sr.marker, x(p.coverage), y(p.mean)))
            if p.isKnee {
                s.add(
                    "<circle cx=\"\(fixed(x(p.coverage), 1))\" cy=\"\(fixed(y(p.mean), 1))\" r=\"10\" fill=\"none\" "
                        + "stroke-width=\"1.5\"/>")
            }
        }
        s.add("</g>")
    }

    /// Marker `kind` centred on (cx, cy): five shapes, filled for kinds 0-4
    /// and hollow (white fill) for 5-9. Colour comes from the enclosing group.
    func marker(_ kind: Int, _ cx: Double, _ cy: Double) -> String {
        let hollow = kind >= Self.shapeCount ? " fill=\"#ffffff\" stroke-width=\"1.5\"" : " stroke-width=\"1\""
        func p(_ dx: Double, _ dy: Double) -> String { "\(fixed(cx + dx, 1)) \(fixed(cy + dy, 1))" }
        switch kind % Self.shapeCount {
        case 0: return "<circle cx=\"\(fixed(cx, 1))\" cy=\"\(fixed(cy, 1))\" r=\"4.5\"\(hollow)/>"
        case 1:
            return "<rect x=\"\(fixed(cx - 4, 1))\" y=\"\(fixed(cy - 4, 1))\" width=\"8\" height=\"8\"\(hollow)/>"
        case 2: return "<path d=\"M\(p(0, -5.5))L\(p(5, 4))L\(p(-5, 4))Z\"\(hollow)/>"
        case 3: return "<path d=\"M\(p(0, -5.5))L\(p(5.5, 0))L\(p(0, 5.5))L\(p(-5.5, 0))Z\"\(hollow)/>"
        default: return "<path d=\"M\(p(0, 5.5))L\(p(5, -4))L\(p(-5, -4))Z\"\(hollow)/>"
        }
    }

    func legend(_ s: inout SVGWriter) {
        var ly = Self.top + 4
        let lx = Self.legendX
        if !series.isEmpty {
            s.text(lx, ly, "Series", size: 13, weight: "bold")
            ly += 20
        }
        for sr in series {
            s.add("<g stroke=\"\(sr.color)\" fill=\"\(sr.color)\">")
            s.add(
                "<line x1=\"\(fixed(lx, 1))\" y1=\"\(fixed(ly - 4, 1))\" x2=\"\(fixed(lx + 28, 1))\" "
                    + "y2=\"\(fixed(ly - 4, 1))\" stroke-width=\"1.8\"/>")
            s.add(marker(sr.marker, lx + 14, ly - 4))
            s.add("</g>")
            for (i, line) in wrapped(sr.label).enumerated() {
                s.text(lx + 36, ly + Double(i) * 14, line, size: i == 0 ? 11 : 10, fill: i == 0 ? "#000000" : "#444444")
            }
            ly += 14 * Double(wrapped(sr.label).count) + 8
        }
        if !references.isEmpty || !series.isEmpty { ly += 4 }
        for r in references {
            s.add(
                "<line x1=\"\(fixed(lx, 1))\" y1=\"\(fixed(ly - 4, 1))\" x2=\"\(fixed(lx + 28, 1))\" y2=\"\(fixed(ly - 4, 1))\" "
                    + "stroke=\"\(r.color)\" stroke-width=\"1.5\" stroke-dasharray=\"\(r.dash)\"/>")
            s.text(lx + 36, ly, r.label, size: 11)
            ly += 20
        }
        if !series.isEmpty {
            s.add(
                "<circle cx=\"\(fixed(lx + 14, 1))\" cy=\"\(fixed(ly - 4, 1))\" r=\"8\" fill=\"none\" stroke=\"#333333\" "
                    + "stroke-width=\"1.5\"/>")
            s.text(lx + 36, ly, "knee: smallest L2 cache within \(Knee.defaultToleranceText)", size: 11)
            s.text(lx + 36, ly + 14, "of the series' best mean IOPS", size: 11)
        }
    }

    /// A series label split into lines of at most ~44 characters at ", ".
    func wrapped(_ label: [String]) -> [String] {
        var lines: [String] = []
        for text in label {
            var current = ""
            for part in text.split(separator: ",", omittingEmptySubsequences: false).map({ trimmed(String($0)) }) {
                let candidate = current.isEmpty ? part : current + ", " + part
                if candidate.count > 44, !current.isEmpty {
                    lines.append(current + ",")
                    current = part
                } else {
                    current = candidate
                }
            }
            if !current.isEmpty { lines.append(current) }
        }
        return lines
    }
}

private func trimmed(_ s: String) -> String {
    var sub = Substring(s)
    while sub.first == " " { sub = sub.dropFirst() }
    while sub.last == " " { sub = sub.dropLast() }
    return String(sub)
}

/// Base-10 logarithm in plain Swift (the standard library has none without
/// Foundation or the C library): exact at powers of ten, within ~1e-15
/// elsewhere, and the same bits on every platform.
func decimalLog(_ v: Double) -> Double {
    guard v > 0, v.isFinite else { return .nan }
    // Split v = m * 2^e with m in [1, 2), then ln(m) by atanh series.
    let e = Double(v.exponent)
    let m = v.significand
    let z = (m - 1) / (m + 1)
    let z2 = z * z
    var term = z
    var sum = 0.0
    var k = 1.0
    while k < 200 {
        let next = sum + term / k
        if next == sum { break }
        sum = next
        term *= z2
        k += 2
    }
    let ln2 = 0.693_147_180_559_945_309_4
    let ln10 = 2.302_585_092_994_045_684_0
    let result = (2 * sum + e * ln2) / ln10
    // Snap to the integer at exact powers of ten, so decade ticks land on
    // the axis ends exactly.
    let r = result.rounded()
    if abs(result - r) < 1e-12, CoveragePlot.pow10(Int(r)) == v { return r }
    return result
}
