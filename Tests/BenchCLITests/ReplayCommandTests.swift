import BenchResults
import Foundation
import Reporting
import Testing

/// `bench replay` through the built binary on the committed reference run
/// (`results/reference`: the default matrix in shared-guest blocks; how
/// many is read from its records, as the reference is retaken). No guest is
/// started: replay only reads records.
@Suite struct ReplayCommandTests {
    static var reference: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("results/reference").path
    }

    /// The reference's paired blocks, counted from its records.
    static var referenceBlocks: Int {
        let records = (try? ResultsLog.read(path: reference + "/results.jsonl")) ?? []
        return Set(records.compactMap { $0.slot?.block }).count
    }

    @Test func replaysTheReferenceAsJSONDeterministically() async throws {
        let args = ["replay", Self.reference, "--nights", "100", "--seed", "4", "--json"]
        let out = try await bench(args)
        #expect(exitCode(out) == 0, "\(out.stderr)")
        #expect(out.stderr.isEmpty, "\(out.stderr)")
        let report = try JSONDecoder().decode(ReplayReport.self, from: Data(out.stdout.utf8))
        let blocks = Self.referenceBlocks
        #expect(blocks >= 8)
        #expect(report.poolBlocks == blocks)
        #expect(report.blocksPerNight == blocks)
        #expect(report.nights == 100)
        #expect(report.pool == .independent)
        #expect(report.dropPercent == 5)
        #expect(report.criteria == RegressionCriteria(confidence: 0.95, thresholdPercent: 5))
        // Every qcow2 cell of the default matrix, never the null-co control.
        #expect(report.cells.map(\.label) == ["L2 128K", "L2 512K", "L2 1M", "L2 2M", "L2 default"])
        for c in report.cells {
            #expect(c.flagged.trials == 100)
            #expect(c.flagged.low <= c.flagged.rate && c.flagged.rate <= c.flagged.high)
            #expect(c.gateFailed.count >= c.flagged.count, "a flagged cell fails the gate")
        }
        #expect(report.falseAlarms.trials == 100)

        let again = try await bench(args)
        #expect(again.stdout == out.stdout, "same seed, same replay")
    }

    @Test func markdownForOneCellBySplitHalves() async throws {
        let out = try await bench(["replay", Self.reference, "--cell", "L2 1M", "--pool", "split", "--nights", "50", "--drop", "20"])
        #expect(exitCode(out) == 0, "\(out.stderr)")
        #expect(out.stdout.hasPrefix("# Replay of the nightly gate on `\(Self.reference)`\n"), "\(out.stdout)")
        let blocks = Self.referenceBlocks
        #expect(out.stdout.contains("50 pairs of \(blocks / 2) blocks, each of distinct blocks from its own half of the \(blocks) paired blocks"))
        #expect(out.stdout.contains("| 20.0% drop of `L2 1M` flagged (power) |"))
        #expect(!out.stdout.contains("L2 128K"))
    }

    static let splitTooMany: ([String], String) = {
        let blocks = referenceBlocks
        return (
            ["--pool", "split", "--blocks", "\(blocks / 2 + 1)"],
            "--blocks: invalid value \"\(blocks / 2 + 1)\": with --pool split each night draws from half of the \(blocks) blocks, so at most \(blocks / 2)"
        )
    }()

    @Test(arguments: [
        (["--cell", "L2 9M"], "--cell: invalid value \"L2 9M\": no such cell; cells: null-co, L2 128K"),
        (["--cell", "null-co"], "--cell: invalid value \"null-co\": the gate never flags it (the null-co control"),
        splitTooMany,
    ])
    func badInputThatNeedsTheRecords(_ extra: [String], _ expected: String) async throws {
        let out = try await bench(["replay", Self.reference] + extra)
        #expect(exitCode(out) == 2)
        #expect(out.stdout.isEmpty)
        #expect(out.stderr.split(separator: "\n").count == 1)
        #expect(out.stderr.contains(expected), "\(out.stderr)")
    }
}
