import Foundation
import Reporting
import Testing

/// `bench replay` through the built binary on the committed reference run
/// (`results/reference`: the default matrix, 8 shared-guest blocks). No
/// guest is started: replay only reads records.
@Suite struct ReplayCommandTests {
    static var reference: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("results/reference").path
    }

    @Test func replaysTheReferenceAsJSONDeterministically() async throws {
        let args = ["replay", Self.reference, "--nights", "100", "--seed", "4", "--json"]
        let out = try await bench(args)
        #expect(exitCode(out) == 0, "\(out.stderr)")
        #expect(out.stderr.isEmpty, "\(out.stderr)")
        let report = try JSONDecoder().decode(ReplayReport.self, from: Data(out.stdout.utf8))
        #expect(report.poolBlocks == 8)
        #expect(report.blocksPerNight == 8)
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
        #expect(out.stdout.contains("50 pairs of 4 blocks, each of distinct blocks from its own half of the 8 paired blocks"))
        #expect(out.stdout.contains("| 20.0% drop of `L2 1M` flagged (power) |"))
        #expect(!out.stdout.contains("L2 128K"))
    }

    @Test(arguments: [
        (["--cell", "L2 9M"], "--cell: invalid value \"L2 9M\": no such cell; cells: null-co, L2 128K"),
        (["--cell", "null-co"], "--cell: invalid value \"null-co\": the gate never flags it (the null-co control"),
        (["--pool", "split", "--blocks", "5"], "--blocks: invalid value \"5\": with --pool split each night draws from half of the 8 blocks, so at most 4"),
    ])
    func badInputThatNeedsTheRecords(_ extra: [String], _ expected: String) async throws {
        let out = try await bench(["replay", Self.reference] + extra)
        #expect(exitCode(out) == 2)
        #expect(out.stdout.isEmpty)
        #expect(out.stderr.split(separator: "\n").count == 1)
        #expect(out.stderr.contains(expected), "\(out.stderr)")
    }
}
