import Qcow2Geometry

/// One share of a matrix's cells (`--shard I/N`), so a matrix can be split
/// across several hosts and the shard directories merged afterwards.
///
/// Assignment is round-robin on the matrix's deterministic cell order
/// (`Matrix.cells()`): the cell at 0-based position `k` belongs to shard
/// `k % N + 1`. So every cell is in exactly one shard, shard sizes differ by
/// at most one (a hash of the cell ID would leave small matrices lopsided),
/// and the assignment depends only on the matrix content, which `Matrix.hash`
/// records: shards of one matrix agree on it on every host.
public struct Shard: Hashable, Sendable, CustomStringConvertible {
    /// 1-based shard number, `1...count`.
    public let index: Int
    /// Number of shards the cells are split into.
    public let count: Int

    /// The rule in error messages, phrased to complete "…: <rule>".
    public static let rule = "must be I/N with whole numbers 1 <= I <= N, e.g. 2/3 for the second of three shards"

    /// Parses `I/N` exactly (digits only, no spaces or signs).
    public init(parsing text: String, field: String = "--shard") throws(InvalidValue) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        func number(_ s: Substring) -> Int? {
            guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(s)
        }
        guard parts.count == 2, let i = number(parts[0]), let n = number(parts[1]), n >= 1, (1...n).contains(i) else {
            throw InvalidValue(field: field, value: text, rule: Self.rule)
        }
        index = i
        count = n
    }

    /// The cells of this shard, in their original order.
    public func select(_ cells: [Cell]) -> [Cell] {
        cells.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }

    public var description: String { "\(index)/\(count)" }
}
