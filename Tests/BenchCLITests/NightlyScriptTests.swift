import BenchResults
import BenchSpec
import Foundation
import Orchestrator
import Testing

/// scripts/nightly end to end, as CI runs it but with a tiny matrix in two
/// shards: no baseline -> exit 0 ("baseline established"); the same commit
/// again -> exit 0; a baseline doctored so that one cell's night is 75%
/// slower -> exit 1. Why 75%, not the 25% first planned: on a 2-core runner
/// with hypervisor steal, 8 blocks of 1 s slots cannot resolve 25%. CI once
/// missed it, and `bench replay` of a 16-block run of this matrix (8-block
/// nights, this gate) flagged a 25% drop in 8.5% (6.1-11.6%) of nights, 50%
/// in 87% (83-90%), 75% in 100% (99.6-100%); 2 s slots did no better. The
/// A/A false-alarm rate was 0.3% (0.0-1.4%).
@Suite(.tags(.endToEnd), .serialized)
struct NightlyScriptTests {
    static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static let matrix = """
        name = "nightly-tiny"
        [workload]
        ramp = "1s"
        runtime = "1s"
        repeat = 4
        [image]
        disk_size = ["1G"]
        [cache]
        l2_cache_size = ["16K", "default"]
        [reference]
        null = true
        """

    func nightly(_ dir: String, output: String, baseline: String) async throws -> (status: Int32?, stdout: String, stderr: String) {
        // A strict gate for a test that must not flake: 99% confidence and
        // beyond 30%; the doctored change is 75%. Why not 10%: a night here
        // is 30 s, inside one swing of the host's slow noise, so its blocks
        // share it and no 8-block CI includes it. Measured in CI on
        // 2026-12-03 at 7e926b9: between two such nights null-co ran 41%
        // faster (17,157 -> 24,226 IOPS) and the default cell's ratio
        // against it fell 23% (p 0.0075 after Holm), a false alarm at 10%.
        let out = try await ToolRunner.run(
            [Self.root + "/scripts/nightly"], workingDirectory: Self.root,
            environment: [
                "BENCH": benchBinary(), "NIGHTLY_MATRIX": dir + "/m.toml", "NIGHTLY_SHARDS": "2",
                "NIGHTLY_OUTPUT": output, "NIGHTLY_BASELINE": baseline,
                "NIGHTLY_COMPARE_ARGS": "--confidence 0.99 --threshold 30", "TMPDIR": dir + "/tmp",
            ])
        return (exitCode(out), out.stdout, out.stderr)
    }

    @Test func baselineThenSameCommitThenASlowerCell() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        try Self.matrix.write(toFile: dir + "/m.toml", atomically: true, encoding: .utf8)

        let first = try await nightly(dir, output: dir + "/n1", baseline: dir + "/none")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("baseline established"), "\(first.stdout)")
        let merged = try ResultsLog.read(path: dir + "/n1/merged/results.jsonl")
        #expect(Set(merged.compactMap(\.provenance.shard)) == ["1/2", "2/2"])
        #expect(Set(merged.map(\.repetition)) == Set(1...8), "two shards of 4 blocks each, interleaved")

        let second = try await nightly(dir, output: dir + "/n2", baseline: dir + "/n1/merged")
        #expect(second.status == 0, "\(second.stdout)\n\(second.stderr)")
        #expect(second.stdout.contains("**No regression**"), "\(second.stdout)")

        // The baseline's 16K cell made 4x as fast: tonight it is 75% slower.
        let doctored = dir + "/doctored"
        try FileManager.default.createDirectory(atPath: doctored, withIntermediateDirectories: true)
        var lines: [String] = []
        for var r in try ResultsLog.read(path: dir + "/n1/merged/results.jsonl") {
            if r.cellID.contains("l2=16K"), var result = r.result {
                result.iops *= 4
                r.result = result
            }
            lines.append(String(decoding: try ResultsLog.makeEncoder().encode(r), as: UTF8.self))
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: doctored + "/results.jsonl", atomically: true, encoding: .utf8)
        let third = try await nightly(dir, output: dir + "/n3", baseline: doctored)
        #expect(third.status == 1, "\(third.stdout)\n\(third.stderr)")
        #expect(third.stdout.contains("**Regression: 1 of"), "\(third.stdout)")
        #expect(ReliabilityTests.leftovers(dir + "/tmp").qemu.isEmpty)
    }
}
