import BenchSpec

/// One scheduled run: a cell and which repetition of it.
public struct PlannedRun: Hashable, Sendable {
    public var cell: Cell
    public var repetition: Int

    public init(cell: Cell, repetition: Int) {
        self.cell = cell
        self.repetition = repetition
    }
}

/// The order runs execute in. Runs are shuffled across cells and
/// repetitions with a seeded generator, so slow drift of the machine spreads
/// over all cells instead of biasing the ones that happen to run last, and
/// the same seed gives the same order.
public enum RunPlan {
    public static func make(cells: [Cell], repetitions: Int, seed: UInt64) -> [PlannedRun] {
        var runs: [PlannedRun] = []
        for rep in 1...max(1, repetitions) {
            for cell in cells { runs.append(PlannedRun(cell: cell, repetition: rep)) }
        }
        var rng = SplitMix64(seed: seed)
        runs.shuffle(using: &rng)
        return runs
    }
}

/// A small seedable generator (the standard library's is not seedable).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
