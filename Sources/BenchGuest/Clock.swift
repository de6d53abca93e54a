import Glibc

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

/// Splitmix64: a fast, seedable generator with good spread for offsets.
struct OffsetGenerator {
    private var state: UInt64
    let blocks: UInt64
    let blockSize: UInt64

    init(seed: UInt64, spanBytes: UInt64, blockSize: UInt64) {
        state = seed
        self.blockSize = blockSize
        blocks = max(1, spanBytes / blockSize)
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        // Lemire's multiply-high maps uniformly onto 0..<blocks without division.
        return z.multipliedFullWidth(by: blocks).high &* blockSize
    }
}
