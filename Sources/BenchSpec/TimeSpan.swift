import Qcow2Geometry

/// A duration as users write it in fio and matrix files: `500ms`, `2s`,
/// `1m`, or a plain number of seconds. Held in whole milliseconds.
public struct TimeSpan: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var milliseconds: UInt32

    public init(milliseconds: UInt32) { self.milliseconds = milliseconds }
    public static func seconds(_ s: UInt32) -> TimeSpan { TimeSpan(milliseconds: s * 1000) }

    public var seconds: Double { Double(milliseconds) / 1000 }

    /// Parses `text`; `allowZero` for ramps and idle phases.
    public init(parsing text: String, field: String, allowZero: Bool = false) throws(InvalidValue) {
        let rule = "expected a whole number with a unit, ms, s, m or h (e.g. 500ms, 8s, 2m)\(allowZero ? "" : ", greater than zero"); at most 24h"
        let t = text.lowercased().filter { !$0.isWhitespace }
        let units: [(String, UInt64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        var number = Substring(t)
        var scale: UInt64 = 1000
        for (suffix, s) in units where t.hasSuffix(suffix) {
            number = t.dropLast(suffix.count)
            scale = s
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt64(number) else {
            throw InvalidValue(field: field, value: text, rule: rule)
        }
        let (ms, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow, ms <= 86_400_000, allowZero || ms > 0 else { throw InvalidValue(field: field, value: text, rule: rule) }
        milliseconds = UInt32(ms)
    }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.milliseconds < b.milliseconds }

    /// `8s`, `500ms`, `2m`.
    public var description: String {
        if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }

    public init(from decoder: any Decoder) throws {
        milliseconds = try decoder.singleValueContainer().decode(UInt32.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(milliseconds)
    }
}
