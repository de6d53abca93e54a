/// A cache option as the user gives it: a value, or `default` (the option is
/// not passed and QEMU chooses). Kept distinct from the effective value, which
/// `QemuCacheModel` derives, because reports must show both.
public enum Setting<Value: Hashable & Sendable>: Hashable, Sendable {
    case `default`
    case value(Value)

    public var value: Value? {
        if case .value(let v) = self { return v }
        return nil
    }

    public var isDefault: Bool { value == nil }
}

extension Setting: CustomStringConvertible where Value: CustomStringConvertible {
    /// `default` or the value's own spelling.
    public var description: String { value.map { $0.description } ?? "default" }
}

extension Setting: Codable where Value: Codable {
    /// Encoded as the string `"default"` or as the value itself.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self), s == "default" {
            self = .default
        } else {
            self = .value(try c.decode(Value.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .default: try c.encode("default")
        case .value(let v): try c.encode(v)
        }
    }
}

extension Setting where Value == ByteSize {
    /// Parses a size or the word `default`.
    public init(parsing text: String, field: String) throws(InvalidValue) {
        if text.trimmingWhitespace().lowercased() == "default" {
            self = .default
        } else {
            self = .value(try ByteSize(parsing: text, field: field))
        }
    }
}

extension Setting where Value == Int {
    /// Parses a whole number of seconds (`0`, `600`, `30s`) or `default`.
    public init(parsingSeconds text: String, field: String) throws(InvalidValue) {
        let t = text.trimmingWhitespace().lowercased()
        if t == "default" {
            self = .default
            return
        }
        let digits = t.hasSuffix("s") ? String(t.dropLast()) : t
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits), n <= Int(UInt32.max) else {
            throw InvalidValue(
                field: field, value: text,
                rule: "expected a whole number of seconds from 0 to \(UInt32.max) (0 disables cleaning), or \"default\"")
        }
        self = .value(n)
    }
}
