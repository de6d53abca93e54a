import BenchResults
import BenchSpec
import Foundation
import Orchestrator
import Testing

@testable import bench

/// `bench report --update-docs`, `bench baseline promote` and `bench merge`
/// through the built binary, on results directories the tests write.
@Suite struct UpdateDocsCommandTests {
    static let document = """
        # Results

        Text before.

        <!-- bench:results:begin -->
        old table
        <!-- bench:results:end -->

        Text after.

        """

    @Test func updateDocsTwiceChangesNothingAndLinksThePlotRelativeToTheFile() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let records = SyntheticResults.records([
            (SyntheticResults.null, [19000, 19100, 18900]),
            (SyntheticResults.qcow2(.kib(256)), [9000, 9100, 8900]),
            (SyntheticResults.qcow2(.mib(2)), [18000, 18100, 17900]),
        ])
        try SyntheticResults.write(records, to: dir + "/results/run")
        try FileManager.default.createDirectory(atPath: dir + "/docs", withIntermediateDirectories: true)
        try Self.document.write(toFile: dir + "/docs/RESULTS.md", atomically: true, encoding: .utf8)

        let first = try await bench(["report", "results/run", "--update-docs", "docs/RESULTS.md"], in: dir)
        #expect(exitCode(first) == 0, "\(first.stderr)")
        #expect(first.stdout.contains("updated the results table in docs/RESULTS.md"))
        let once = try String(contentsOfFile: dir + "/docs/RESULTS.md", encoding: .utf8)
        #expect(once.hasPrefix("# Results\n\nText before.\n\n<!-- bench:results:begin -->\n| L2 setting | Effective L2 |"))
        #expect(once.contains("| 256K | 256 KiB (4 KiB entries) | 12.50% | 9,000 ± 248 (n=3) | 50.0% | 47.4% |"))
        #expect(once.hasSuffix("\n![IOPS against L2 coverage](../results/run/coverage.svg)\n<!-- bench:results:end -->\n\nText after.\n"))
        #expect(!once.contains("old table"))
        #expect(FileManager.default.fileExists(atPath: dir + "/results/run/coverage.svg"), "the linked plot exists")

        let second = try await bench(["report", "results/run", "--update-docs", "docs/RESULTS.md"], in: dir)
        #expect(exitCode(second) == 0)
        #expect(second.stdout.contains("docs/RESULTS.md: results table already up to date"))
        #expect(try String(contentsOfFile: dir + "/docs/RESULTS.md", encoding: .utf8) == once)
    }

    @Test func missingMarkersAreOneLineExitTwoAndWriteNothing() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SyntheticResults.write(SyntheticResults.records([(SyntheticResults.null, [19000, 19100])]), to: dir + "/run")
        try "# No markers here\n".write(toFile: dir + "/README.md", atomically: true, encoding: .utf8)
        let before = try snapshotOfTree(dir)
        let out = try await bench(["report", "run", "--update-docs", "README.md"], in: dir)
        #expect(exitCode(out) == 2)
        #expect(
            out.stderr
                == "error: README.md: no <!-- bench:results:begin --> marker; put <!-- bench:results:begin --> and <!-- bench:results:end --> on their own lines where the results go\n"
        )
        #expect(try snapshotOfTree(dir) == before, "neither the document nor the reports were written")

        let missing = try await bench(["report", "run", "--update-docs", "NOPE.md"], in: dir)
        #expect(exitCode(missing) == 2)
        #expect(missing.stderr.split(separator: "\n").count == 1)
        #expect(missing.stderr.contains("--update-docs: invalid value \"NOPE.md\": cannot read the file"))
    }
}

@Suite struct BaselinePromoteCommandTests {
    @Test func promoteCopiesRecordsAndReportsAndRefusesToOverwriteWithoutForce() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let records = SyntheticResults.records([(SyntheticResults.qcow2(.mib(2)), SyntheticResults.tight)])
        try SyntheticResults.write(records, to: dir + "/results/run1")
        let out = try await bench(["baseline", "promote", "results/run1"], in: dir)
        #expect(exitCode(out) == 0, "\(out.stderr)")
        #expect(out.stdout.contains("promoted 5 runs of matrix synthetic (hash 00000000feedface) from results/run1 to results/baseline"))
        let copied = try ResultsLog.read(path: dir + "/results/baseline/results.jsonl")
        #expect(copied == records, "records, provenance included, unchanged")
        for name in ["report.md", "cells.csv", "runs.csv", "coverage.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/results/baseline/" + name), "\(name)")
        }

        // A second promote is refused without --force, and changes nothing.
        let other = SyntheticResults.records([(SyntheticResults.qcow2(.mib(1)), SyntheticResults.tight)])
        try SyntheticResults.write(other, to: dir + "/results/run2")
        let before = try snapshotOfTree(dir + "/results/baseline")
        let refused = try await bench(["baseline", "promote", "results/run2"], in: dir)
        #expect(exitCode(refused) == 2)
        #expect(refused.stderr == "error: results/baseline: a baseline already exists; pass --force to replace it\n")
        #expect(try snapshotOfTree(dir + "/results/baseline") == before)

        let forced = try await bench(["baseline", "promote", "results/run2", "--force"], in: dir)
        #expect(exitCode(forced) == 0, "\(forced.stderr)")
        #expect(try ResultsLog.read(path: dir + "/results/baseline/results.jsonl") == other)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir + "/results").sorted()
        #expect(leftovers == ["baseline", "run1", "run2"], "no staging directory left behind")
    }

    @Test func promoteToAnotherDirectory() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SyntheticResults.write(SyntheticResults.records([(SyntheticResults.null, [1, 2])]), to: dir + "/run")
        let out = try await bench(["baseline", "promote", "run/results.jsonl", "--to", "refs/nightly"], in: dir)
        #expect(exitCode(out) == 0, "\(out.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/refs/nightly/results.jsonl"))
    }

    @Test func aDirectoryWithoutResultsIsRefused() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/notresults", withIntermediateDirectories: true)
        let out = try await bench(["baseline", "promote", "notresults"], in: dir)
        #expect(exitCode(out) == 2)
        #expect(out.stderr == "error: notresults: no results.jsonl; promote a results directory written by 'bench --matrix'\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/results"))
    }
}

@Suite struct MergeCommandTests {
    /// Three cells split in two shards by the real shard rule, as two hosts would run them.
    func shards(in dir: String, secondHash: String = "00000000feedface") throws -> [Cell] {
        let cells = [SyntheticResults.null, SyntheticResults.qcow2(.kib(256)), SyntheticResults.qcow2(.mib(2))]
        let one = try Shard(parsing: "1/2").select(cells).map { ($0, SyntheticResults.tight) }
        let two = try Shard(parsing: "2/2").select(cells).map { ($0, SyntheticResults.tightLower) }
        try SyntheticResults.write(SyntheticResults.records(one), to: dir + "/shard1")
        try SyntheticResults.write(
            SyntheticResults.records(two, provenance: SyntheticResults.provenance(matrixHash: secondHash)), to: dir + "/shard2")
        return cells
    }

    @Test func mergeWritesOneResultsDirectoryWithUniqueSequences() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cells = try shards(in: dir)
        let out = try await bench(["merge", "merged", "shard1", "shard2"], in: dir)
        #expect(exitCode(out) == 0, "\(out.stderr)")
        #expect(out.stdout.contains("merged 15 runs of 3 cells from 2 shards into merged"))
        let records = try ResultsLog.read(path: dir + "/merged/results.jsonl")
        #expect(Set(records.map(\.cellID)) == Set(cells.map(\.id)))
        #expect(records.map(\.sequence) == Array(0..<15))
        for name in ["report.md", "cells.csv", "runs.csv", "coverage.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/merged/" + name), "\(name)")
        }
        // The merged directory is an ordinary results directory: report rebuilds it identically.
        let md = try Data(contentsOf: URL(fileURLWithPath: dir + "/merged/report.md"))
        #expect(exitCode(try await bench(["report", "merged"], in: dir)) == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/merged/report.md")) == md)

        // Never over existing results.
        let again = try await bench(["merge", "merged", "shard1", "shard2"], in: dir)
        #expect(exitCode(again) == 2)
        #expect(again.stderr == "error: merged: already holds results.jsonl; choose a new directory (results are never overwritten)\n")
    }

    @Test func mixedMatrixHashesAreRefusedNamingBoth() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try shards(in: dir, secondHash: "1111222233334444")
        let out = try await bench(["merge", "merged", "shard1", "shard2"], in: dir)
        #expect(exitCode(out) == 2)
        #expect(out.stderr.split(separator: "\n").count == 1)
        #expect(out.stderr.contains("1111222233334444") && out.stderr.contains("00000000feedface"), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/merged"))
    }

    @Test func theSameShardTwiceIsRefused() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try shards(in: dir)
        let out = try await bench(["merge", "merged", "shard1", "shard1"], in: dir)
        #expect(exitCode(out) == 2)
        #expect(out.stderr.contains("is in both shard1 and shard1"))
        let none = try await bench(["merge", "merged"], in: dir)
        #expect(exitCode(none) == 2)
        #expect(none.stderr == "error: missing shard directories: bench merge OUT DIR...\n")
    }
}

/// `--shard I/N` as MatrixCommand gets it.
@Suite struct ShardOptionsTests {
    static let matrix = Matrix(
        name: "m", l2CacheSizes: [.value(.kib(256)), .value(.kib(512)), .value(.mib(1)), .value(.mib(2)), .default],
        includeNull: true)

    @Test func selectsTheShardOrEverything() throws {
        let cells = Self.matrix.cells()
        #expect(try ShardOptions.parse([]).select(cells) == cells)
        let shards = try (1...4).map { try ShardOptions.parse(["--shard", "\($0)/4"]).select(cells) }
        #expect(shards.map(\.count) == [2, 2, 1, 1])
        #expect(Set(shards.flatMap { $0.map(\.id) }) == Set(cells.map(\.id)))
        #expect(shards.flatMap { $0 }.count == cells.count)
    }

    @Test(arguments: ["0/2", "3/2", "1/0", "x", "1/2/3"])
    func invalidValuesAreOneLineErrors(text: String) {
        do {
            _ = try ShardOptions.parse(["--shard", text])
            Issue.record("--shard \(text) was accepted")
        } catch {
            let message = ShardOptions.message(for: error)
            #expect(message == "--shard: invalid value \"\(text)\": \(Shard.rule)")
        }
    }
}

/// The nightly matrix keeps the shape the nightly job relies on.
@Suite struct NightlyMatrixTests {
    /// `Benchmarks/nightly.toml` at the package root, found from this file's path.
    static var file: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Benchmarks/nightly.toml").path
    }

    @Test func coversTheKneeWithANullCeilingInPairedBlocksWithinFifteenMinutes() throws {
        let m = try Matrix.load(path: Self.file)
        #expect(m.name == "nightly")
        #expect(m.pairing.targetCI == 0.03)
        #expect(m.pairing.budget == .seconds(15 * 60))
        #expect(m.cells().allSatisfy { Isolation.sharingObstacle($0) == nil }, "every cell shares the guest")
        #expect(m.includeNull)
        let qcow2 = m.qcow2Cells()
        #expect(qcow2.allSatisfy { $0.state == .preallocated && $0.geometry.diskSize == .gib(16) && $0.geometry.clusterSize == .kib(64) })
        let coverage = qcow2.compactMap { $0.effectiveCache?.l2CoveragePercent }
        #expect(coverage.contains(100), "a cell at full coverage")
        #expect(coverage.filter { $0 < 100 }.count >= 2, "cells below the knee")
    }
}

/// `bench report` on the committed references: every derived file, figures
/// included, is rebuilt from `results.jsonl` byte for byte, equal to what
/// is committed.
@Suite struct ReportRebuildTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["reference", "knobs", "clean-interval", "cache-size", "aa-swapped", "long-4s", "target-3pct", "host-holes", "isolation/shared", "isolation/guest-per-run", "rerun-2026-12-07"])
    func committedReferenceRebuildsByteForByte(_ name: String) async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = Self.repo.appendingPathComponent("results/\(name)")
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source.path + "/results.jsonl", toPath: dir + "/run/results.jsonl")
        let out = try await bench(["report", "run"], in: dir)
        #expect(exitCode(out) == 0, "\(out.stderr)")
        let written = try FileManager.default.contentsOfDirectory(atPath: dir + "/run").sorted()
        let committed = try FileManager.default.contentsOfDirectory(atPath: source.path).filter { !$0.hasSuffix(".png") }.sorted()
        #expect(written == committed, "the files bench report writes are the committed ones")
        for file in written {
            let a = FileManager.default.contents(atPath: dir + "/run/" + file)
            let b = FileManager.default.contents(atPath: source.path + "/" + file)
            #expect(a == b, "\(name)/\(file) differs from its rebuild: run `bench report results/\(name)`")
        }
    }
}

/// The README's calibration table comes from `results/calibrate`: its text
/// is what `bench calibrate --from` prints from the committed records.
@Suite struct CalibrationRebuildTests {
    @Test(arguments: [
        ("records.jsonl", "calibration.txt", "1.22  (95% CI 1.15 to 1.29"), ("four-second.jsonl", "four-second.txt", "1.11  (95% CI 0.96 to 1.28"),
        ("full-trace.jsonl", "full-trace.txt", "0.86  (95% CI 0.70 to 1.07"),
        ("sleep-at-once.jsonl", "sleep-at-once.txt", "0.88  (95% CI 0.64 to 1.20"),
    ])
    func committedCalibrationPrintsAgainFromItsRecords(_ records: String, _ text: String, _ ratio128K: String) async throws {
        let source = ReportRebuildTests.repo.path + "/results/calibrate"
        let out = try await bench(["calibrate", "--from", source + "/" + records])
        #expect(exitCode(out) == 0, "\(out.stderr)")
        let committed = try String(contentsOfFile: source + "/" + text, encoding: .utf8)
        #expect(out.stdout == committed, "run `bench calibrate --from results/calibrate/\(records) > results/calibrate/\(text)`")
        #expect(out.stdout.contains("native/fio   \(ratio128K); paired by block"))
    }

    @Test func aFileWithoutCalibrationRecordsIsRefused() async throws {
        let out = try await bench(["calibrate", "--from", ReportRebuildTests.repo.path + "/results/reference/results.jsonl"])
        #expect(exitCode(out) == 2)
        #expect(out.stderr.contains("has no calibration records"), "\(out.stderr)")
    }
}

/// A rebuild removes figures an earlier report wrote that the records no
/// longer produce, and leaves files that are not the report's own.
@Suite struct StaleFigureTests {
    @Test func aKnobFigureTheRecordsNoLongerProduceIsRemoved() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: ReportRebuildTests.repo.path + "/results/reference/results.jsonl", toPath: dir + "/run/results.jsonl")
        // The reference varies only the L2 cache: no image-state figure.
        for name in ["image-state.svg", "refcount-cache-2.svg", "my-notes.svg", "image-state-draft.svg"] {
            try "<svg/>".write(toFile: dir + "/run/" + name, atomically: true, encoding: .utf8)
        }
        let out = try await bench(["report", "run"], in: dir)
        #expect(exitCode(out) == 0, "\(out.stderr)")
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/run"))
        #expect(!names.contains("image-state.svg") && !names.contains("refcount-cache-2.svg"), "\(names.sorted())")
        #expect(names.isSuperset(of: ["my-notes.svg", "image-state-draft.svg", "coverage.svg", "misses.svg"]), "\(names.sorted())")
    }
}
