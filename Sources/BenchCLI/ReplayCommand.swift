import ArgumentParser
import BenchResults
import Foundation
import Reporting

extension ReplayPool: ExpressibleByArgument {}
extension ReplayRegression: ExpressibleByArgument {}

/// `bench replay DIR`: how well the nightly gate would do with DIR's amount
/// of data, from DIR's own noise: bootstrapped nights, judged by the same
/// `compareResults` that `bench compare` runs.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a results directory as bootstrapped nights: the gate's power against a drop, and its A/A false-alarm rate.",
        discussion: """
            Resamples whole blocks (every shared-guest cell once) of DIR into a baseline night and a new night, runs the gate of bench compare on them (same --confidence and --threshold), once as they \
            are (A/A: a failed gate is a false alarm) and once per dropped cell with its IOPS lowered by --drop in \
            the new night (flagged: power). --pool independent draws both nights with replacement from every block (default; nights \
            have DIR's block count); --pool split gives each night of a pair distinct blocks from its own random half, \
            so they share none (nights have half DIR's block count). Rates come with Wilson 95% intervals. Seeded and \
            deterministic.

            Exit status: 0 replayed, 2 bad input.
            """)

    @Argument(help: ArgumentHelp("Results directory (or its results.jsonl) with shared-guest blocks.", valueName: "dir"))
    var directory: String

    @Option(help: ArgumentHelp("Drop of one cell's IOPS in the new night (e.g. 5 or 5%).", valueName: "percent"))
    var drop = "5%"

    @Option(help: ArgumentHelp("Cell to drop, by cell ID or short label (e.g. \"L2 1M\"); repeatable. Default: every gated cell.", valueName: "label"))
    var cell: [String] = []

    @Option(help: "Night pairs to replay.")
    var nights = 1000

    @Option(help: "Blocks per replayed night. Default: DIR's block count (--pool independent), half of it (--pool split).")
    var blocks: Int?

    @Option(help: "Seed of the resampling.")
    var seed: UInt64 = 1

    @Option(help: "Where the two nights draw their blocks from: independent or split.")
    var pool: ReplayPool = .independent

    @Option(
        help: ArgumentHelp(
            "The slowdown to simulate: cpu (each write costs QEMU more CPU; IOPS and the CPU ratio fall) or wait (writes wait longer; only IOPS falls).",
            valueName: "kind"))
    var regression: ReplayRegression = .cpu
    @OptionGroup var gate: GateOptions

    @Flag(help: "Print the replay as JSON instead of Markdown.")
    var json = false

    static let maxNights = 100_000
    static let blockRange = 2...10_000

    func options() throws -> ReplayOptions {
        let digits = drop.hasSuffix("%") ? String(drop.dropLast()) : drop
        guard let percent = Double(digits), percent.isFinite, percent > 0, percent < 100 else {
            throw ValidationError("--drop: invalid value \"\(drop)\": must be a percentage above 0 and below 100, e.g. 5 or 5%")
        }
        guard (1...Self.maxNights).contains(nights) else {
            throw ValidationError("--nights: invalid value \"\(nights)\": must be from 1 to \(Self.maxNights)")
        }
        if let blocks, !Self.blockRange.contains(blocks) {
            throw ValidationError(
                "--blocks: invalid value \"\(blocks)\": must be from \(Self.blockRange.lowerBound) to \(Self.blockRange.upperBound)")
        }
        if let empty = cell.first(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--cell: invalid value \"\(empty)\": must name a cell (its ID or short label)")
        }
        return ReplayOptions(
            drop: percent / 100, cells: cell.isEmpty ? nil : cell, nights: nights, blocks: blocks, seed: seed, pool: pool,
            criteria: try gate.criteria(), regression: regression)
    }

    func validate() throws { _ = try options() }

    func run() async throws {
        let options = try options()
        let records = try ResultsInput.records(directory)
        let report: ReplayReport
        do { report = try replayNights(records: records, options: options, source: directory) } catch {
            throw fail(error.description, code: 2)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let data: Data
            do { data = try encoder.encode(report) } catch { throw fail("encoding the replay: \(error)", code: 1) }
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(replayMarkdown(report), terminator: "")
        }
    }
}
