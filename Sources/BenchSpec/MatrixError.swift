import Qcow2Geometry

/// Why a matrix file was refused. One error type for the whole layer, so the
/// CLI prints one line and exits with status 2 before anything starts.
///
/// The description is always one line that begins with the file (or
/// `<embedded default>`):
///
/// - `<source>: TOML syntax error at line N: <parser message>`
/// - `<source>: cannot read matrix file: <reason>`
/// - `<source>: unknown key '<key.path>' (allowed: a, b, c)`
/// - `<source>: <key.path>: invalid value "<value>": <rule>`
/// - `<source>: <key.path>: <message>` (rules about the matrix as a whole)
///
/// Key paths name TOML keys as written (`cache.l2_cache_size`); `exclude[N]`
/// is the N-th `[[exclude]]` table, counting from 1.
public struct MatrixError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The text is not TOML. `line` is 1-based.
        case syntax(line: Int, message: String)
        /// The file could not be read.
        case unreadable(String)
        /// A key the format does not define (often a typo); `allowed` lists the
        /// keys valid at that place, in documentation order.
        case unknownKey(String, allowed: [String])
        /// A value of the wrong type or that breaks a rule.
        case invalidValue(InvalidValue)
        /// A rule about several values together, with no single culprit.
        case matrix(key: String, message: String)
    }

    /// The file path, or `<embedded default>`.
    public var source: String
    public var reason: Reason

    /// Use `source` as given; it starts the message.
    public init(source: String, reason: Reason) {
        self.source = source
        self.reason = reason
    }

    init(source: String, _ invalid: InvalidValue) {
        self.init(source: source, reason: .invalidValue(invalid))
    }

    public var description: String {
        switch reason {
        case .syntax(let line, let message):
            "\(source): TOML syntax error at line \(line): \(message)"
        case .unreadable(let why):
            "\(source): cannot read matrix file: \(why)"
        case .unknownKey(let key, let allowed):
            "\(source): unknown key '\(key)' (allowed: \(allowed.joined(separator: ", ")))"
        case .invalidValue(let invalid):
            "\(source): \(invalid.description)"
        case .matrix(let key, let message):
            "\(source): \(key): \(message)"
        }
    }
}
