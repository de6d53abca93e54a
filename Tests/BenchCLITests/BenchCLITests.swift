import BenchSpec
import Foundation
import Orchestrator
import Testing

extension Tag {
    /// Boots real QEMU guests through the `bench` binary.
    @Tag static var endToEnd: Self
}

/// The built `bench` executable, next to this test bundle.
func benchBinary() -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("bench").path
}

func bench(_ args: [String], in dir: String? = nil, tmpdir: String? = nil) async throws -> ToolOutput {
    try await ToolRunner.run([benchBinary()] + args, workingDirectory: dir, environment: tmpdir.map { ["TMPDIR": $0] } ?? [:])
}

func exitCode(_ out: ToolOutput) -> Int32? {
    if case .exited(let c) = out.status { return c }
    return nil
}

func makeTempDir() throws -> String {
    let dir = NSTemporaryDirectory() + "bench-cli-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Bad input: one line naming field, value and rule; exit 2; nothing started or written.
@Suite struct BadInputTests {
    static let cases: [([String], String)] = [
        (["run", "--l2-cache-size", "12Q"], "--l2-cache-size: invalid value \"12Q\""),
        (["run", "--disk-size=-1"], "--disk-size: invalid value \"-1\""),
        (["run", "--disk-size", "1.5M"], "--disk-size: invalid value \"1.5M\""),
        (["run", "--disk-size", "0"], "--disk-size: invalid value \"0\""),
        (["run", "--disk-size", "99999999999999999999"], "--disk-size"),
        (["run", "--cluster-size", "3000"], "--cluster-size: invalid value \"3000\": qcow2 cluster sizes are powers of two from 512 to 2M"),
        (["run", "--cluster-size", "4M"], "--cluster-size"),
        (["run", "--l2-cache-entry-size", "128K"], "--l2-cache-entry-size: invalid value \"128K\""),
        (["run", "--cache-clean-interval=-3"], "--cache-clean-interval: invalid value \"-3\""),
        (["run", "--runtime", "10x"], "--runtime: invalid value \"10x\""),
        (["run", "--iodepth", "0"], "--iodepth: invalid value \"0\""),
        (["run", "--disk", "raw", "--refcount-cache-size", "1M"], "apply only to --disk qcow2"),
        (["run", "--accel", "xen"], "xen"),
        (["run", "--kernel", "/nonexistent/kernel"], "guest kernel not found at /nonexistent/kernel"),
        (["--matrix", "/nonexistent.toml"], "/nonexistent.toml: cannot read matrix file"),
        (["--matrix", "--repeat", "0"], "--repeat: invalid value \"0\""),
        (["report", "/nonexistent-dir"], "cannot read records"),
        (["report", "/nonexistent-dir", "--update-docs", "README.md", "--docs-section", "Cache Size"],
         "--docs-section: invalid value \"Cache Size\": must be 1 to 40 lowercase letters, digits or '-'"),
        (["run", "--disk", "raw", "--l2-cache-size", "1M"], "apply only to --disk qcow2"),
        (["run", "--disk", "null", "--cache-clean-interval", "5"], "apply only to --disk qcow2"),
        (["run", "--cluster-size", "4K", "--l2-cache-entry-size", "8K"], "must be a power of two from 512 to the cluster size (4K)"),
        (["run", "--l2-cache-entry-size", "3000"], "--l2-cache-entry-size: invalid value \"3000\""),
        (["run", "--cache-size", "1M", "--l2-cache-size", "512K", "--refcount-cache-size", "256K"],
         "--cache-size: invalid value \"1M\": cannot be set together with both l2_cache_size and refcount_cache_size"),
        (["run", "--cache-size", "1M", "--l2-cache-size", "2M"], "--l2-cache-size: invalid value \"2M\": may not exceed cache_size (1M)"),
        (["run", "--disk", "null", "--cache-size", "1M"], "apply only to --disk qcow2"),
        (["run", "--l2-cache-size", "4K"], "must hold at least 2 L2 cache entries"),
        (["run", "--span", "0%"], "--span: invalid value \"0%\""),
        (["run", "--span", "101%"], "--span: invalid value \"101%\""),
        (["run", "--block-size", "1000"], "--block-size: invalid value \"1000\": must be a multiple of 512"),
        (["run", "--ramp=-1s"], "--ramp: invalid value \"-1s\""),
        (["run", "--runtime", ""], "--runtime: invalid value \"\""),
        (["run", "--disk-size", "512"], "--disk-size: invalid value \"512\": must be at least 1M"),
        (["run", "--seed", "abc"], "abc"),
        (["run", "--image-state", "snapshotted"], "snapshotted"),
        (["--matrix", "--retries", "9"], "--retries: invalid value \"9\": must be from 0 to 5"),
        (["--matrix", "--resume", "/nonexistent-results"], "--resume: invalid value \"/nonexistent-results\": no results.jsonl there"),
        (["--matrix", "--runtime", "5parsecs"], "--runtime: invalid value \"5parsecs\""),
        (["calibrate", "--runs", "1"], "--runs: invalid value \"1\": must be from 2 to 100"),
        (["calibrate", "--runtime", "0s"], "--runtime: invalid value \"0s\""),
        (["calibrate", "--ramp", "soon"], "--ramp: invalid value \"soon\""),
        (["run", "--driver", "spdk"], "spdk"),
    ]

    @Test(arguments: cases)
    func rejected(args: [String], expected: String) async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try await bench(args, in: dir)
        #expect(exitCode(out) == 2, "stdout: \(out.stdout) stderr: \(out.stderr)")
        let lines = out.stderr.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got: \(out.stderr)")
        #expect(out.stderr.contains(expected), "stderr: \(out.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "bad input wrote files")
    }

    @Test func badMatrixFileNamesFileKeyAndValue() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/bad.toml"
        try "[cache]\nl2_cache_size = [\"64K\", \"12Q\"]\n".write(toFile: file, atomically: true, encoding: .utf8)
        let out = try await bench(["--matrix", file, "--output", dir + "/out"])
        #expect(exitCode(out) == 2)
        #expect(out.stderr.hasPrefix("error: \(file): cache.l2_cache_size: invalid value \"12Q\""), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }

    /// Matrix files with one mistake each: file, key and value in one line.
    static let badMatrices: [(String, String)] = [
        ("[cache]\nl2_size = [\"1M\"]\n", "unknown key 'cache.l2_size'"),
        ("[workload]\niodepth = \"32\"\n", "workload.iodepth: invalid value \"32\": must be an integer, not a string"),
        ("[cache]\nl2_cache_size = []\n", "cache.l2_cache_size"),
        ("[image]\ncluster_size = [\"3000\"]\n", "image.cluster_size: invalid value \"3000\""),
        ("[cache]\ncache_size = [\"1M\"]\nl2_cache_size = [\"512K\"]\nrefcount_cache_size = [\"256K\"]\n",
         "cache.cache_size: invalid value \"1M\": cannot be set together with both l2_cache_size and refcount_cache_size"),
        ("[cache]\ncache_size = [\"1M\"]\nrefcount_cache_size = [\"2M\"]\n", "cache.refcount_cache_size: invalid value \"2M\": may not exceed cache_size (1M)"),
        ("[cache]\ncache_size = [\"1.5M\"]\n", "cache.cache_size: invalid value \"1.5M\""),
        ("[workload]\nruntime = \"fast\"\n", "workload.runtime: invalid value \"fast\""),
        ("[cache]\nl2_cache_entry_size = [\"128K\"]\n", "l2_cache_entry_size: invalid value \"128K\""),
        ("name = [\n", "TOML syntax error at line"),
    ]

    @Test(arguments: badMatrices)
    func badMatrixFile(toml: String, expected: String) async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/bad.toml"
        try toml.write(toFile: file, atomically: true, encoding: .utf8)
        let out = try await bench(["--matrix", file, "--output", dir + "/out"])
        #expect(exitCode(out) == 2)
        #expect(out.stderr.split(separator: "\n").count == 1, "\(out.stderr)")
        #expect(out.stderr.hasPrefix("error: \(file): "), "\(out.stderr)")
        #expect(out.stderr.contains(expected), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }

    @Test func kernelThatIsNotAKernelIsRefusedBeforeBooting() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/k/modules", withIntermediateDirectories: true)
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: dir + "/k/vmlinuz"))
        let out = try await bench(["run", "--kernel", dir + "/k", "--disk-size", "64M", "--runtime", "1s"])
        #expect(exitCode(out) == 2)
        #expect(out.stderr.contains("is not usable: not an x86 bzImage"), "\(out.stderr)")
    }

    @Test func outputThatIsAFileIsRefused() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/taken"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let out = try await bench(["--matrix", "--output", file])
        #expect(exitCode(out) == 2)
        #expect(out.stderr.contains("exists and is not a directory"))
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "x")
    }

    @Test func dryRunStartsNothing() async throws {
        let out = try await bench(["--matrix", "--dry-run"])
        #expect(exitCode(out) == 0)
        #expect(out.stdout.contains("6 cells, 6 in shared guests x 6–60 blocks, seed 1"), "\(out.stdout)")
        #expect(out.stdout.contains("shared guest 1: L2 128K, L2 512K, L2 1M, L2 2M, L2 default, null-co"))
        #expect(out.stdout.contains("estimated wall time"))
    }
}

/// A real two-cell matrix through the binary: records, reports, rebuild.
@Suite(.tags(.endToEnd), .serialized)
struct MatrixEndToEndTests {
    @Test func twoCellMatrixWritesRecordsAndReproducibleReports() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/two.toml"
        try """
            name = "two"
            [workload]
            isolation = "guest-per-run"
            ramp = "0s"
            runtime = "2s"
            repeat = 2
            [image]
            disk_size = ["1G"]
            [cache]
            l2_cache_size = ["16K", "default"]
            [reference]
            null = true
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let outDir = dir + "/out"
        let out = try await bench(["--matrix", file, "--output", outDir])
        #expect(exitCode(out) == 0, "\(out.stdout)\n\(out.stderr)")
        #expect(out.stdout.contains("finished 6 of 6 runs (0 failed)"), "\(out.stdout)")
        #expect(out.stdout.contains("of wall time"))

        let records = try ResultsLog.read(path: outDir + "/results.jsonl")
        #expect(records.count == 6)  // (2 qcow2 + 1 null) x 2
        #expect(Set(records.map(\.cellID)).count == 3)
        #expect(records.allSatisfy { $0.schemaVersion == RunRecord.currentSchemaVersion && $0.status == .ok })
        #expect(records.allSatisfy { !$0.provenance.qemuCommandLine.isEmpty && $0.provenance.gitRevision != "" })

        let names = ["runs.csv", "cells.csv", "report.md", "coverage.svg"]
        var before: [String: Data] = [:]
        for n in names {
            before[n] = try Data(contentsOf: URL(fileURLWithPath: outDir + "/" + n))
            try FileManager.default.removeItem(atPath: outDir + "/" + n)
        }
        let rebuilt = try await bench(["report", outDir])
        #expect(exitCode(rebuilt) == 0, "\(rebuilt.stderr)")
        for n in names {
            let after = try Data(contentsOf: URL(fileURLWithPath: outDir + "/" + n))
            #expect(after == before[n], "\(n) differs after bench report")
        }
        let cells = try String(contentsOfFile: outDir + "/cells.csv", encoding: .utf8)
        #expect(cells.hasPrefix(
            "cell,state,disk_size,cluster_size,l2_cache_size,l2_cache_entry_size,refcount_cache_size,cache_clean_interval,l2_coverage_pct,refcount_coverage_pct,runs,iops_mean,iops_stdev,iops_ci95,iops_min,iops_max,lat_p50_us,lat_p99_us,vs_ceiling_pct"))

        let again = try await bench(["--matrix", file, "--output", outDir])
        #expect(exitCode(again) == 2, "an existing results directory must not be overwritten")
    }
}

/// A matrix whose images cannot fit on the work file system is refused
/// before anything starts (needs root for a small tmpfs, as CI has).
@Suite struct DiskSpaceTests {
    @Test(.enabled(if: getuid() == 0)) func matrixThatCannotFitIsRefusedWithTheNumbers() async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tiny = dir + "/tiny"
        try FileManager.default.createDirectory(atPath: tiny, withIntermediateDirectories: true)
        let mount = try await ToolRunner.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", tiny])
        try #require(mount.succeeded, "\(mount.stderr)")
        defer { _ = try? FileManager.default.removeItem(atPath: tiny + "/x") }
        let file = dir + "/big.toml"
        try "[image]\ndisk_size = [\"64G\"]\nstate = [\"snapshot\"]\n".write(toFile: file, atomically: true, encoding: .utf8)
        let out = try await bench(["--matrix", file, "--output", dir + "/out"], tmpdir: tiny)
        _ = try await ToolRunner.run(["umount", tiny])
        #expect(exitCode(out) == 2)
        #expect(out.stderr.hasPrefix("error: host disk: the matrix's images need 64 GiB"), "\(out.stderr)")
        #expect(out.stderr.contains("but only"), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }
}
