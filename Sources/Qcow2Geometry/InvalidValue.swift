/// A user-supplied value that breaks a rule. Its description is the one-line
/// message the CLI prints: the field, the value and what is allowed.
public struct InvalidValue: Error, Equatable, Sendable, CustomStringConvertible {
    /// Where the value came from: a CLI option (`--l2-cache-size`) or a
    /// matrix key (`Benchmarks/x.toml: cache.l2_cache_size`).
    public var field: String
    public var value: String
    /// What is allowed, phrased so it completes "…: <rule>".
    public var rule: String

    public init(field: String, value: String, rule: String) {
        self.field = field
        self.value = value
        self.rule = rule
    }

    public var description: String {
        "\(field): invalid value \"\(value)\": \(rule)"
    }

    /// The same error attributed to another field (e.g. a matrix key path).
    public func at(_ field: String) -> InvalidValue {
        InvalidValue(field: field, value: value, rule: rule)
    }
}
