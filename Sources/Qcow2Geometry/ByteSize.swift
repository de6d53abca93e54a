/// A size in bytes as QEMU spells it: a whole number with an optional binary
/// suffix (K, M, G, T, P, E = powers of 1024; an optional trailing `B` or
/// `iB`), or plain bytes. Fractions (`1.5M`, which QEMU itself accepts) are
/// refused so every configuration maps to one exact byte count.
public struct ByteSize: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var bytes: UInt64

    public init(_ bytes: UInt64) { self.bytes = bytes }

    public static func kib(_ n: UInt64) -> ByteSize { ByteSize(n << 10) }
    public static func mib(_ n: UInt64) -> ByteSize { ByteSize(n << 20) }
    public static func gib(_ n: UInt64) -> ByteSize { ByteSize(n << 30) }

    static let rule = "expected a whole number of bytes greater than zero, optionally with a K, M, G, T, P or E suffix (powers of 1024), e.g. 64K or 16G"

    /// Parses `text`; `field` names the option or key for the error message.
    public init(parsing text: String, field: String) throws(InvalidValue) {
        let fail = InvalidValue(field: field, value: text, rule: Self.rule)
        var s = Substring(text.trimmingWhitespace())
        guard !s.isEmpty else { throw fail }
        // Optional "B" / "iB" tail after a suffix, or a lone "B" for bytes.
        if s.hasSuffix("iB") || s.hasSuffix("ib") { s = s.dropLast(2); guard let l = s.last, l.isLetter else { throw fail } }
        else if s.count > 1, let l = s.last, l == "B" || l == "b" { s = s.dropLast() }
        var shift: UInt64 = 0
        if let last = s.last, last.isLetter {
            switch last.uppercased() {
            case "K": shift = 10
            case "M": shift = 20
            case "G": shift = 30
            case "T": shift = 40
            case "P": shift = 50
            case "E": shift = 60
            default: throw fail
            }
            s = s.dropLast()
        }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt64(s) else { throw fail }
        guard n > 0 else { throw fail }
        guard n <= (UInt64.max >> shift) else {
            throw InvalidValue(field: field, value: text, rule: "too large: sizes must fit in 64 bits (at most 16E - 1 byte)")
        }
        self.bytes = n << shift
    }

    public static func < (a: ByteSize, b: ByteSize) -> Bool { a.bytes < b.bytes }

    public var isPowerOfTwo: Bool { bytes != 0 && bytes & (bytes - 1) == 0 }

    /// Shortest exact spelling: `64K`, `16G`, `1536K`, `1000` (plain bytes).
    public var description: String {
        let units: [(UInt64, String)] = [(60, "E"), (50, "P"), (40, "T"), (30, "G"), (20, "M"), (10, "K")]
        for (shift, unit) in units where bytes >= (1 << shift) && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return "\(bytes)"
    }

    /// Human-readable approximation for summaries: `1.5 GiB`.
    public var humanReadable: String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(bytes)
        var i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        if i == 0 { return "\(bytes) B" }
        let rounded = (v * 10).rounded() / 10
        let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
        return "\(text) \(units[i])"
    }

    // Codable as a plain integer of bytes: records stay language-neutral.
    public init(from decoder: any Decoder) throws {
        bytes = try decoder.singleValueContainer().decode(UInt64.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(bytes)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
