import GuestWire
import Testing

/// Fixed sequences, computed independently (a few lines of Python with the
/// published constants): a recorded seed must give the same values and run
/// order on any toolchain and in the guest.
@Suite struct SeededTests {
    @Test func splitMix64MatchesTheReferenceSequence() {
        var g = SplitMix64(seed: 0)
        #expect([g.next(), g.next(), g.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    @Test func fisherYatesGivesAFixedOrder() {
        var a = Array(0..<10)
        var g = SplitMix64(seed: 1)
        a.seededShuffle(using: &g)
        #expect(a == [9, 0, 1, 4, 8, 2, 3, 7, 6, 5])

        var b = Array(0..<18)
        var h = SplitMix64(seed: 42)
        b.seededShuffle(using: &h)
        #expect(b == [7, 10, 17, 15, 12, 6, 9, 1, 14, 3, 8, 16, 11, 0, 5, 4, 2, 13])
    }

    @Test func shufflingNothingOrOneElementDrawsNothing() {
        var g = SplitMix64(seed: 5)
        var empty: [Int] = []
        var one = [1]
        empty.seededShuffle(using: &g)
        one.seededShuffle(using: &g)
        #expect(one == [1] && g.next() == SplitMix64(seed: 5).nextCopy())
    }

    @Test func fnv1a64MatchesTheReference() {
        #expect(FNV1a64.hex("hello") == "a430d84680aabd0b")
        #expect(FNV1a64.hex("") == "cbf29ce484222325")
    }
}

extension SplitMix64 {
    fileprivate func nextCopy() -> UInt64 {
        var c = self
        return c.next()
    }
}

@Suite struct DurationSecondsTests {
    @Test func secondsIncludeTheFraction() {
        #expect(Duration.milliseconds(1500).inSeconds == 1.5)
        #expect(Duration.seconds(-2).inSeconds == -2)
    }
}
