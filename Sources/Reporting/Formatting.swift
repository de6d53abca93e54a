import Qcow2Geometry

// Text helpers shared by the formatters. Everything here is locale-free and
// independent of Foundation, so the same records give the same bytes on every
// machine.

/// `value` rounded to `decimals` places (half away from zero) and printed
/// without exponent or grouping: `fixed(1234.56, 1) == "1234.6"`. Empty for
/// NaN and infinities; never prints `-0`.
func fixed(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "" }
    var scale = 1.0
    for _ in 0..<max(0, decimals) { scale *= 10 }
    let scaled = (abs(value) * scale).rounded(.toNearestOrAwayFromZero)
    // Values beyond 2^63 cannot be printed digit by digit this way; no
    // IOPS, latency or percentage comes near it.
    guard scaled < 9.0e18 else { return String(value) }
    let units = UInt64(scaled)
    let negative = value < 0 && units != 0
    var digits = String(units)
    if decimals > 0 {
        if digits.count <= decimals {
            digits = String(repeating: "0", count: decimals - digits.count + 1) + digits
        }
        let split = digits.index(digits.endIndex, offsetBy: -decimals)
        digits = String(digits[..<split]) + "." + String(digits[split...])
    }
    return negative ? "-" + digits : digits
}

/// `fixed` for optionals: empty when nil.
func fixed(_ value: Double?, _ decimals: Int) -> String {
    value.map { fixed($0, decimals) } ?? ""
}

/// Whole number with a thin grouping for readability in Markdown: `18 234`
/// would be ambiguous in CSV, so this is only for prose and tables.
func grouped(_ value: Double) -> String {
    guard value.isFinite else { return "n/a" }
    let text = fixed(value, 0)
    let negative = text.hasPrefix("-")
    let digits = Array(negative ? String(text.dropFirst()) : text)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return negative ? "-" + out : out
}

/// One CSV field, quoted per RFC 4180 when it holds a comma, a double quote,
/// CR or LF (embedded quotes doubled).
func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    var out = "\""
    for ch in text {
        if ch == "\"" { out += "\"\"" } else { out.append(ch) }
    }
    return out + "\""
}

/// One CSV record (no line terminator).
func csvRow(_ fields: [String]) -> String {
    fields.map(csvField).joined(separator: ",")
}

/// Text safe inside an XML element or attribute value.
func xmlEscaped(_ text: String) -> String {
    var out = ""
    for ch in text {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(ch)
        }
    }
    return out
}

/// Text safe inside a Markdown table cell: pipes escaped, line breaks
/// flattened to spaces.
func markdownCell(_ text: String) -> String {
    var out = ""
    for ch in text {
        switch ch {
        case "|": out += "\\|"
        case "\n", "\r", "\r\n": out += " "
        default: out.append(ch)
        }
    }
    return out
}

/// Inline code span that survives backticks in `text`.
func code(_ text: String) -> String {
    text.contains("`") ? "`` " + text + " ``" : "`" + text + "`"
}

extension ByteSize {
    /// Exact spelling with binary unit for prose: `64 KiB`, `1536 KiB`, `1000 B`.
    var exactBinary: String {
        let units: [(UInt64, String)] = [(60, "EiB"), (50, "PiB"), (40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")]
        for (shift, unit) in units where bytes >= (1 << shift) && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift) \(unit)"
        }
        return "\(bytes) B"
    }
}
