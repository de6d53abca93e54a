import ArgumentParser
import BenchSpec
import Qcow2Geometry

/// `--shard I/N`: run a deterministic share of a matrix's cells, so several
/// hosts can split one matrix and `bench merge` can join their directories.
/// Cells are dealt round-robin in matrix order (see `Shard`).
struct ShardOptions: ParsableArguments {
    @Option(
        name: .customLong("shard"),
        help: ArgumentHelp(
            "Run only shard I of N: cells that share a guest run in every shard, each shard in its own blocks (I, I+N, ...); cells in guests of their own are dealt round-robin. Join the directories with 'bench merge'.",
            valueName: "I/N"))
    var text: String?

    /// `I/N` as recorded in provenance (normalized); nil without `--shard`.
    var recorded: String? { (try? shard())?.map(\.description) }

    /// The parsed shard; nil runs every cell.
    func shard() throws -> Shard? {
        try text.map { (t) throws in try parsed { () throws(InvalidValue) in try Shard(parsing: t) } }
    }

    func validate() throws { _ = try shard() }

    /// The cells of the requested shard, in matrix order; all cells without
    /// `--shard`. Validation has already rejected malformed values.
    func select(_ cells: [Cell]) -> [Cell] {
        guard let shard = try? shard() else { return cells }
        return shard.select(cells)
    }
}
