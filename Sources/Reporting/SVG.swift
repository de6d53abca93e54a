// Pieces shared by the SVG figures: a line writer, colours, axis steps.

/// Accumulates SVG lines.
struct SVGWriter {
    var text = ""
    mutating func add(_ line: String) { text += line + "\n" }
    mutating func text(
        _ x: Double, _ y: Double, _ content: String, size: Double, anchor: String = "start", weight: String? = nil,
        fill: String = "#000000"
    ) {
        var attrs = "x=\"\(fixed(x, 1))\" y=\"\(fixed(y, 1))\" font-size=\"\(fixed(size, 0))\""
        if anchor != "start" { attrs += " text-anchor=\"\(anchor)\"" }
        if let w = weight { attrs += " font-weight=\"\(w)\"" }
        if fill != "#000000" { attrs += " fill=\"\(fill)\"" }
        add("<text \(attrs)>\(xmlEscaped(content))</text>")
    }
}

/// Okabe-Ito colours (distinguishable with common colour-vision
/// deficiencies), yellow left out for contrast on white.
let plotPalette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

extension SVGWriter {
    /// The opening tag (explicit size and viewBox), title and white background.
    mutating func open(width: Double, height: Double, title: String) {
        let w = fixed(width, 0)
        let h = fixed(height, 0)
        add(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(w)\" height=\"\(h)\" "
                + "viewBox=\"0 0 \(w) \(h)\" font-family=\"sans-serif\" font-size=\"12\">")
        add("<title>\(xmlEscaped(title))</title>")
        add("<rect x=\"0\" y=\"0\" width=\"\(w)\" height=\"\(h)\" fill=\"#ffffff\"/>")
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1, dash: String? = nil) {
        add(
            "<line x1=\"\(fixed(x1, 1))\" y1=\"\(fixed(y1, 1))\" x2=\"\(fixed(x2, 1))\" y2=\"\(fixed(y2, 1))\" "
                + "stroke=\"\(stroke)\" stroke-width=\"\(fixed(width, 1))\"" + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>")
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, stroke: String? = nil) {
        add(
            "<rect x=\"\(fixed(x, 1))\" y=\"\(fixed(y, 1))\" width=\"\(fixed(max(0, w), 1))\" height=\"\(fixed(max(0, h), 1))\" "
                + "fill=\"\(fill)\"" + (stroke.map { " stroke=\"\($0)\" stroke-width=\"1\"" } ?? "") + "/>")
    }

    /// Text rotated to run upwards, centred on (x, y): a y-axis title.
    mutating func verticalText(_ x: Double, _ y: Double, _ content: String, size: Double = 13) {
        add(
            "<text x=\"\(fixed(x, 1))\" y=\"\(fixed(y, 1))\" font-size=\"\(fixed(size, 0))\" text-anchor=\"middle\" "
                + "transform=\"rotate(-90 \(fixed(x, 1)) \(fixed(y, 1)))\">\(xmlEscaped(content))</text>")
    }
}

/// A 1-2-5 step giving about `intervals` intervals over `lo...hi`, and the
/// axis ends as multiples of it enclosing the range.
func niceRange(_ lo: Double, _ hi: Double, intervals: Double = 5) -> (lo: Double, hi: Double, step: Double) {
    guard lo.isFinite, hi.isFinite else { return (0, 1, 0.2) }
    let span = hi - lo > 0 ? hi - lo : max(abs(hi), 1) * 0.1
    let raw = span / intervals
    var mag = 1.0
    while mag > raw { mag /= 10 }
    while mag * 10 <= raw { mag *= 10 }
    let norm = raw / mag
    let step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag
    let a = (lo / step).rounded(.down) * step
    var b = (hi / step).rounded(.up) * step
    if b <= a { b = a + step }
    return (a, b, step)
}

/// Rough width of `text` in px at `size` (sans-serif averages ~0.56 em).
func textWidth(_ text: String, size: Double) -> Double { Double(text.count) * size * 0.56 }
