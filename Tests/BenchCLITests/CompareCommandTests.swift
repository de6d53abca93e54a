import BenchResults
import BenchSpec
import Foundation
import Orchestrator
import Reporting
import Testing

/// `bench compare` through the built binary, on results directories the
/// tests write: exit 0 / 1 / 2, Markdown and JSON.
@Suite struct CompareCommandTests {
    let a = SyntheticResults.qcow2(.kib(256))
    let b = SyntheticResults.qcow2(.mib(2))

    /// A temporary directory with `baseline/` and `current/` results.
    func directories(
        baseline: [(Cell, [Double])], current: [(Cell, [Double])],
        currentProvenance: Provenance = SyntheticResults.provenance()
    ) throws -> String {
        let dir = try makeTempDir()
        try SyntheticResults.write(SyntheticResults.records(baseline), to: dir + "/baseline")
        try SyntheticResults.write(
            SyntheticResults.records(current, provenance: currentProvenance), to: dir + "/current")
        return dir
    }

    @Test func noRegressionExitsZero() async throws {
        let dir = try directories(
            baseline: [(a, SyntheticResults.tight), (b, SyntheticResults.tight)],
            current: [(b, SyntheticResults.tight.reversed()), (a, SyntheticResults.tight)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try await bench(["compare", "baseline", "current"], in: dir)
        #expect(exitCode(out) == 0, "\(out.stdout)\n\(out.stderr)")
        #expect(out.stdout.hasPrefix("# qcow2 cache benchmark comparison\n"))
        #expect(out.stdout.contains("**No regression** in 2 compared cells."))
        #expect(out.stderr.isEmpty)
    }

    @Test func significantDropBeyondThresholdExitsOne() async throws {
        let dir = try directories(
            baseline: [(a, SyntheticResults.tight), (b, SyntheticResults.tight)],
            current: [(a, SyntheticResults.tight), (b, SyntheticResults.tightLower)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try await bench(["compare", "baseline/results.jsonl", "current"], in: dir)
        #expect(exitCode(out) == 1, "\(out.stdout)\n\(out.stderr)")
        let rows = out.stdout.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| Verdict") }
        #expect(rows.first?.hasPrefix("| **regression** (IOPS, p99) | `\(b.id)`") == true, "regressions first: \(rows)")

        // The same drop under a 15% threshold is not a regression.
        let lenient = try await bench(["compare", "--threshold", "15%", "baseline", "current"], in: dir)
        #expect(exitCode(lenient) == 0, "\(lenient.stdout)")
        let plain = try await bench(["compare", "--threshold", "15", "baseline", "current"], in: dir)
        #expect(exitCode(plain) == 0)
    }

    @Test func jsonOutputCarriesTheVerdictAndTheSameExitStatus() async throws {
        let dir = try directories(
            baseline: [(a, SyntheticResults.tight)], current: [(a, SyntheticResults.tightLower)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try await bench(["compare", "--json", "baseline", "current"], in: dir)
        #expect(exitCode(out) == 1)
        let comparison = try JSONDecoder().decode(Comparison.self, from: Data(out.stdout.utf8))
        #expect(comparison.hasRegression)
        #expect(comparison.cells.map(\.cellID) == [a.id])
        #expect(comparison.criteria == RegressionCriteria(confidence: 0.95, thresholdPercent: 5))
        #expect(comparison.baseline.source == "baseline")
    }

    @Test func noiseAndSingleRunsDoNotFail() async throws {
        // A 10% drop inside wide noise, and a 50% drop measured once.
        let noisy: [Double] = [18000, 15000, 21000, 17000, 19500]
        let dir = try directories(
            baseline: [(a, noisy), (b, SyntheticResults.tight)],
            current: [(a, noisy.map { $0 * 0.9 }), (b, [9000])])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try await bench(["compare", "baseline", "current"], in: dir)
        #expect(exitCode(out) == 0, "\(out.stdout)")
        #expect(out.stdout.contains("no test is possible with a single run on a side"))
    }

    @Test func differentEnvironmentsAreAWarningFirst() async throws {
        let dir = try directories(
            baseline: [(a, SyntheticResults.tight)], current: [(a, SyntheticResults.tight)],
            currentProvenance: SyntheticResults.provenance(qemuVersion: "8.2.2"))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try await bench(["compare", "baseline", "current"], in: dir)
        #expect(exitCode(out) == 0)
        let lines = out.stdout.split(separator: "\n")
        #expect(lines.dropFirst().first?.hasPrefix("**Warning: the environments differ** (QEMU version)") == true, "\(lines)")
        #expect(out.stdout.contains("| QEMU version | 7.2.0 | 8.2.2 |"))
    }

    @Test func cellsOnOneSideAreListedNotFatal() async throws {
        let c = SyntheticResults.qcow2(.mib(1))
        let dir = try directories(
            baseline: [(a, SyntheticResults.tight), (c, SyntheticResults.tight)],
            current: [(a, SyntheticResults.tight), (SyntheticResults.null, SyntheticResults.tight)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try await bench(["compare", "baseline", "current"], in: dir)
        #expect(exitCode(out) == 0)
        #expect(out.stdout.contains("Only in the baseline (not compared): `\(c.id)`"))
        #expect(out.stdout.contains("Only in the current results (not compared): `\(SyntheticResults.null.id)`"))
    }
}
