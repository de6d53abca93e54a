import BenchSpec
import GuestWire

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
        runs.seededShuffle(using: &rng)
        return runs
    }
}
