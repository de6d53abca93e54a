/// Seeded randomness and hashing shared by host and guest. They live here,
/// not in the standard library, because results must be reproducible from a
/// recorded seed on any toolchain: Swift promises neither the algorithm of
/// `shuffle(using:)` nor a stable `Hasher`.

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and seedable, unlike
/// the standard library's generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    @usableFromInline var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Inlinable: the guest draws one value per I/O, and under TCG a call
    /// across modules per I/O is measurable.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `0..<bound` (Lemire's multiply-high; the tiny bias
    /// for bounds far below 2^64 is irrelevant here and keeps it branch-free).
    @inlinable
    public mutating func next(below bound: UInt64) -> UInt64 {
        next().multipliedFullWidth(by: bound).high
    }
}

extension MutableCollection where Self: RandomAccessCollection, Index == Int {
    /// Fisher–Yates (Durstenfeld): the order depends only on `generator`'s
    /// output, so a recorded seed gives the same order everywhere.
    public mutating func seededShuffle(using generator: inout SplitMix64) {
        guard count > 1 else { return }
        var i = endIndex - 1
        while i > startIndex {
            let j = startIndex + Int(generator.next(below: UInt64(i - startIndex + 1)))
            swapAt(i, j)
            i -= 1
        }
    }
}

/// FNV-1a, 64 bit: a stable content key (caches, matrix identity), not a
/// security hash.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        var h = value
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x100_0000_01b3
        }
        value = h
    }

    /// 16 lowercase hex digits.
    public var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    public static func hex(_ text: String) -> String {
        var h = FNV1a64()
        h.add(text.utf8)
        return h.hex
    }
}

extension Duration {
    /// The duration in seconds, for records and reports (`Duration` has no
    /// such accessor; every copy of this arithmetic was the same line).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
