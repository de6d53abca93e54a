import Glibc
import GuestWire
import Histogram

/// Monotonic time in nanoseconds.
@inline(__always)
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Guest uptime in milliseconds: `CLOCK_BOOTTIME` is the clock /proc/uptime
/// reports, read here at full resolution instead of its 10 ms steps.
func uptimeMillis() -> UInt64 {
    var ts = timespec()
    guard clock_gettime(CLOCK_BOOTTIME, &ts) == 0 else { return 0 }
    return UInt64(ts.tv_sec) &* 1000 &+ UInt64(ts.tv_nsec) / 1_000_000
}

/// Block-aligned random offsets: uniform over the span, or Zipf-skewed like
/// fio's `random_distribution=zipf:THETA` (Gray et al.'s generator, as fio's
/// lib/zipf.c; hot ranks scattered over the span by a hash so the hot set is
/// not one contiguous region covered by a single L2 table).
struct OffsetGenerator {
    private var rng: SplitMix64
    let blocks: UInt64
    let blockSize: UInt64
    private let zipf: ZipfParameters?

    init(seed: UInt64, spanBytes: UInt64, blockSize: UInt64, distribution: OffsetDistribution = .uniform) {
        rng = SplitMix64(seed: seed)
        self.blockSize = blockSize
        blocks = max(1, spanBytes / blockSize)
        if case .zipf(let t) = distribution {
            zipf = ZipfParameters(n: blocks, theta: Double(t) / 1000)
        } else {
            zipf = nil
        }
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let z = rng.next()
        guard let zipf else {
            // Lemire's multiply-high maps uniformly onto 0..<blocks without division.
            return z.multipliedFullWidth(by: blocks).high &* blockSize
        }
        let rank = zipf.rank(uniform: Double(z >> 11) * 0x1p-53)
        var h = rank &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return h.multipliedFullWidth(by: blocks).high &* blockSize
    }
}

/// Precomputed constants of the Zipf generator for `n` items.
struct ZipfParameters {
    let n: Double
    let theta: Double
    let alpha: Double
    let zetan: Double
    let eta: Double
    let twoThreshold: Double

    init(n items: UInt64, theta: Double) {
        n = Double(items)
        self.theta = theta
        alpha = 1 / (1 - theta)
        zetan = Self.zeta(items, theta)
        let zeta2 = 1 + pow(0.5, theta)
        eta = (1 - pow(2 / n, 1 - theta)) / (1 - zeta2 / zetan)
        twoThreshold = zeta2
    }

    /// 0-based rank for a uniform sample in [0, 1).
    @inline(__always)
    func rank(uniform u: Double) -> UInt64 {
        let uz = u * zetan
        if uz < 1 { return 0 }
        if uz < twoThreshold { return 1 }
        let r = n * pow(eta * u - eta + 1, alpha)
        return r.isFinite && r >= 0 ? min(UInt64(n) - 1, UInt64(r)) : 0
    }

    /// sum_{i=1..n} i^-theta: exact for the first 10,000 terms, then the
    /// midpoint integral, whose error is far below a part in a million there.
    static func zeta(_ n: UInt64, _ theta: Double) -> Double {
        let exact = min(n, 10_000)
        var sum = 0.0
        var i: UInt64 = 1
        while i <= exact {
            sum += pow(Double(i), -theta)
            i += 1
        }
        guard n > exact else { return sum }
        let a = Double(exact) + 0.5
        let b = Double(n) + 0.5
        if abs(theta - 1) < 1e-9 { return sum + log(b / a) }
        return sum + (pow(b, 1 - theta) - pow(a, 1 - theta)) / (1 - theta)
    }
}

/// A latency histogram in nanoseconds, resolved to 1 µs below 2 ms and to
/// three significant digits above. The 1 µs floor (not 1 ns) matters under
/// TCG: each percentile walks the counts up to its value, and with a 1 ns
/// floor the three percentiles of a slot walked ~40,000 counts, 25 ms after
/// every window (the largest part of the gap between two slots); with 1 µs
/// they walk about a third of that. Slot latencies are tens of µs and up,
/// so the floor changes no reported figure by more than 1 µs.
func makeLatencyHistogram() -> Histogram<UInt64> {
    Histogram<UInt64>(lowestDiscernibleValue: 1_000, highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
}
