import BenchResults
import BenchSpec
import GuestWire

/// The clean interval's figure: QEMU's resident memory over time (top) and
/// IOPS per second (bottom) through the workload's phases, one line per
/// interval value (mean over the cell's runs), phases shaded. Time is
/// seconds from the start of the first write phase; each run is aligned on
/// its `idle-start` marker, the host-timed boundary the memory samples
/// share. The memory axis does not start at 0: the guest's RAM dwarfs the
/// cache, and the change is what matters.
struct RSSPlot {
    struct Line {
        var label: String
        var color: String
        /// (seconds, MiB) on a 250 ms grid.
        var rss: [(Double, Double)]
        /// Per write phase: (seconds, IOPS) at the middle of each second.
        var iops: [[(Double, Double)]]
    }

    static let width = 980.0
    static let left = 90.0
    static let right = 760.0
    static let rssTop = 96.0
    static let rssBottom = 356.0
    static let iopsTop = 396.0
    static let iopsBottom = 536.0
    static let height = 600.0

    let title: String
    let subtitle: String
    let phases: [WorkloadPhase]
    let ramp: Double
    let lines: [Line]
    let xMax: Double
    let rssAxis: (lo: Double, hi: Double, step: Double)
    let iopsAxis: (lo: Double, hi: Double, step: Double)

    /// Nil unless some cell of `group` has a successful run with memory
    /// samples and an idle phase marker.
    init?(_ set: ResultSet, group: KnobGroup, subtitle: String = "") {
        guard let workload = group.cells.first?.cell.workload, workload.phases.contains(where: { !$0.isWrite }),
            let idleIndex = workload.phases.firstIndex(where: { !$0.isWrite })
        else { return nil }
        phases = workload.phases
        ramp = Double(workload.ramp.milliseconds) / 1000
        let before = phases[..<idleIndex].reduce(0.0) { $0 + Double($1.millis) }
        let total = phases.reduce(0.0) { $0 + Double($1.millis) } / 1000
        xMax = total
        var built: [Line] = []
        for (i, c) in group.cells.enumerated() {
            let runs = set.records.filter { $0.cellID == c.cellID && $0.succeeded }.compactMap { r -> (RunRecord, Double)? in
                guard let m = r.phaseMarks?.first(where: { $0.label == "idle-start \(idleIndex)" }), r.memory != nil else { return nil }
                return (r, Double(m.atMillis) - before)
            }
            guard !runs.isEmpty else { continue }
            var rss: [(Double, Double)] = []
            var t = -ramp
            while t <= total + 1e-9 {
                let values = runs.compactMap { r, t0 -> Double? in
                    r.memory?.sample(atMillis: Int((t0 + t * 1000).rounded())).map { Double($0.kib) / 1024 }
                }
                if let mean = SampleStats(values)?.mean { rss.append((t, mean)) }
                t += 0.25
            }
            var iops: [[(Double, Double)]] = []
            var start = 0.0
            for (j, p) in phases.enumerated() {
                defer { start += Double(p.millis) / 1000 }
                guard p.isWrite else { continue }
                let perRun = runs.compactMap { $0.0.result?.phases }.filter { $0.count > j }.map { $0[j].perSecondOps }
                let seconds = perRun.map(\.count).max() ?? 0
                iops.append(
                    (0..<seconds).compactMap { k in
                        SampleStats(perRun.compactMap { $0.count > k ? Double($0[k]) : nil }).map { (start + Double(k) + 0.5, $0.mean) }
                    })
            }
            let setting = c.cell.cache.cacheCleanInterval
            let effective = c.effective.map { " (\($0.cacheCleanInterval) s)" } ?? ""
            let label = setting.isDefault ? "interval default\(effective)" : "interval \(setting) s\(setting.value == 0 ? " (never)" : "")"
            built.append(
                Line(
                    label: label,
                    color: plotPalette[i % plotPalette.count], rss: rss, iops: iops))
        }
        guard !built.isEmpty else { return nil }
        lines = built
        title = "Cache clean interval: QEMU memory and IOPS through write / idle / write"
        let runs = Set(group.cells.map { c in set.records.filter { $0.cellID == c.cellID && $0.succeeded }.count })
        let each =
            runs.count == 1 ? (runs.first.map { $0 > 1 ? "mean of \($0) runs per line" : "one run per line" } ?? "") : "mean of each cell's runs"
        self.subtitle = [subtitle, each, "runs aligned on the idle phase's start"].filter { !$0.isEmpty }.joined(separator: "; ")
        let rssValues = built.flatMap { $0.rss.filter { $0.0 >= 0 }.map(\.1) }
        rssAxis = niceRange(rssValues.min() ?? 0, rssValues.max() ?? 1, intervals: 5)
        let top = built.flatMap { $0.iops.flatMap { $0.map(\.1) } }.max() ?? 1
        let y = niceRange(0, top * 1.05, intervals: 4)
        iopsAxis = (0, y.hi, y.step)
    }

    func x(_ t: Double) -> Double { Self.left + (t + ramp) / (xMax + ramp) * (Self.right - Self.left) }
    func yRSS(_ v: Double) -> Double {
        Self.rssBottom - (v - rssAxis.lo) / (rssAxis.hi - rssAxis.lo) * (Self.rssBottom - Self.rssTop)
    }
    func yIOPS(_ v: Double) -> Double {
        Self.iopsBottom - (v - iopsAxis.lo) / (iopsAxis.hi - iopsAxis.lo) * (Self.iopsBottom - Self.iopsTop)
    }

    func render() -> String {
        var s = SVGWriter()
        s.open(width: Self.width, height: Self.height, title: title)
        s.text(Self.width / 2, 28, title, size: 17, anchor: "middle", weight: "bold")
        s.text(Self.width / 2, 50, subtitle, size: 12, anchor: "middle", fill: "#444444")
        // Phase shading over both panels, labels above the top panel.
        var start = 0.0
        if ramp > 0 {
            s.rect(x(-ramp), Self.rssTop, x(0) - x(-ramp), Self.iopsBottom - Self.rssTop, fill: "#f3f3f3")
            s.text((x(-ramp) + x(0)) / 2, Self.rssTop - 8, "ramp", size: 11, anchor: "middle", fill: "#666666")
        }
        for p in phases {
            let end = start + Double(p.millis) / 1000
            s.rect(x(start), Self.rssTop, x(end) - x(start), Self.iopsBottom - Self.rssTop, fill: p.isWrite ? "#e8f1fa" : "#fdf0e4")
            s.text(
                (x(start) + x(end)) / 2, Self.rssTop - 8, p.description.replacingSuffixS, size: 12, anchor: "middle",
                weight: "bold", fill: p.isWrite ? "#0b4f86" : "#8a4200")
            start = end
        }
        panel(&s, top: Self.rssTop, bottom: Self.rssBottom, axis: rssAxis, y: yRSS, title: "QEMU RSS (MiB)", decimals: rssAxis.step < 1 ? 1 : 0)
        panel(&s, top: Self.iopsTop, bottom: Self.iopsBottom, axis: iopsAxis, y: yIOPS, title: "IOPS (per second)", decimals: 0)
        // x axis under the lower panel.
        var t = 0.0
        while t <= xMax + 1e-9 {
            s.line(x(t), Self.iopsBottom, x(t), Self.iopsBottom + 5, stroke: "#333333")
            s.text(x(t), Self.iopsBottom + 19, fixed(t, 0), size: 11, anchor: "middle")
            t += xMax > 30 ? 5 : 2
        }
        s.text((Self.left + Self.right) / 2, Self.iopsBottom + 44, "seconds from the start of the first write phase", size: 13, anchor: "middle")
        s.add(
            "<defs><clipPath id=\"rss\"><rect x=\"\(fixed(Self.left, 1))\" y=\"\(fixed(Self.rssTop, 1))\" "
                + "width=\"\(fixed(Self.right - Self.left, 1))\" height=\"\(fixed(Self.rssBottom - Self.rssTop, 1))\"/></clipPath></defs>")
        for l in lines {
            let pts = l.rss.map { "\(fixed(x($0.0), 1)),\(fixed(yRSS($0.1), 1))" }.joined(separator: " ")
            s.add("<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(l.color)\" stroke-width=\"2\" clip-path=\"url(#rss)\"/>")
            for segment in l.iops where !segment.isEmpty {
                let p = segment.map { "\(fixed(x($0.0), 1)),\(fixed(yIOPS($0.1), 1))" }.joined(separator: " ")
                s.add("<polyline points=\"\(p)\" fill=\"none\" stroke=\"\(l.color)\" stroke-width=\"2\"/>")
                for q in segment {
                    s.add("<circle cx=\"\(fixed(x(q.0), 1))\" cy=\"\(fixed(yIOPS(q.1), 1))\" r=\"3\" fill=\"\(l.color)\"/>")
                }
            }
        }
        // Legend, right of the panels.
        var ly = Self.rssTop + 10
        let lx = Self.right + 18
        s.text(lx, ly, "cache-clean-interval", size: 13, weight: "bold")
        ly += 22
        for l in lines {
            s.line(lx, ly - 4, lx + 26, ly - 4, stroke: l.color, width: 2.5)
            let words = wrap(l.label, width: 24)
            for (i, w) in words.enumerated() { s.text(lx + 34, ly + Double(i) * 14, w, size: 11) }
            ly += 14 * Double(words.count) + 10
        }
        ly += 8
        for (fill, text) in [("#e8f1fa", "write phase"), ("#fdf0e4", "idle phase: no I/O"), ("#f3f3f3", "ramp (not measured)")] {
            s.rect(lx, ly - 11, 26, 14, fill: fill, stroke: "#bbbbbb")
            s.text(lx + 34, ly, text, size: 11)
            ly += 20
        }
        s.add("</svg>")
        return s.text
    }

    func panel(
        _ s: inout SVGWriter, top: Double, bottom: Double, axis: (lo: Double, hi: Double, step: Double), y: (Double) -> Double,
        title: String, decimals: Int
    ) {
        var v = axis.lo
        while v <= axis.hi + axis.step * 1e-6 {
            let py = y(v)
            s.line(Self.left, py, Self.right, py, stroke: "#d8d8d8")
            s.line(Self.left - 5, py, Self.left, py, stroke: "#333333")
            s.text(Self.left - 9, py + 4, decimals == 0 ? grouped(v) : fixed(v, decimals), size: 11, anchor: "end")
            v += axis.step
        }
        s.add(
            "<rect x=\"\(fixed(Self.left, 1))\" y=\"\(fixed(top, 1))\" width=\"\(fixed(Self.right - Self.left, 1))\" "
                + "height=\"\(fixed(bottom - top, 1))\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>")
        s.verticalText(24, (top + bottom) / 2, title, size: 12)
    }
}

/// Words of `text` in lines of at most `width` characters.
func wrap(_ text: String, width: Int) -> [String] {
    var lines: [String] = []
    var current = ""
    for word in text.split(separator: " ") {
        let candidate = current.isEmpty ? String(word) : current + " " + word
        if candidate.count > width, !current.isEmpty {
            lines.append(current)
            current = String(word)
        } else {
            current = candidate
        }
    }
    if !current.isEmpty { lines.append(current) }
    return lines
}

extension String {
    /// `write 4s` -> `write 4 s`, as prose spells durations.
    fileprivate var replacingSuffixS: String {
        guard hasSuffix("s"), let last = dropLast().last, last.isNumber else { return self }
        return dropLast() + " s"
    }
}
