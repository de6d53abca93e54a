import BenchResults
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

/// One bad input to any command: a command line, optionally with a matrix
/// file. `{dir}` in `args` is the test's directory (also the working
/// directory), `{m}` the matrix file written from `toml`. Every string in
/// `expected` must appear in the one error line: the option or key, the
/// value and what is allowed.
struct BadInput: Sendable, CustomTestStringConvertible {
    var args: [String]
    var toml: String?
    var expected: [String]

    init(_ args: [String], toml: String? = nil, _ expected: String...) {
        self.args = args
        self.toml = toml
        self.expected = expected
    }

    var testDescription: String { (args + (toml.map { ["<<", $0] } ?? [])).joined(separator: " ") }
}

/// Bad input to every command: one line naming field, value and rule; exit
/// 2; no file, directory or process left behind.
@Suite struct BadInputTests {
    static let cases: [BadInput] = [
        // bench run: sizes, cache values, workload, guest options.
        BadInput(["run", "--l2-cache-size", "12Q"], "--l2-cache-size: invalid value \"12Q\""),
        BadInput(["run", "--disk-size=-1"], "--disk-size: invalid value \"-1\""),
        BadInput(["run", "--disk-size", "1.5M"], "--disk-size: invalid value \"1.5M\""),
        BadInput(["run", "--disk-size", "0"], "--disk-size: invalid value \"0\""),
        BadInput(["run", "--disk-size", "99999999999999999999"], "--disk-size: invalid value \"99999999999999999999\""),
        BadInput(["run", "--disk-size", "512"], "--disk-size: invalid value \"512\": must be at least 1M"),
        BadInput(["run", "--disk-size", "1048577"], "--disk-size: invalid value \"1048577\": must be at least 1M and a multiple of 512 bytes"),
        // 8P preallocated needs terabytes of L2 tables: refused with both numbers, no qemu-img started.
        BadInput(["run", "--disk-size", "8P"], "--disk-size: invalid value \"8P\": the images need 2 TiB", "is free there"),
        BadInput(["run", "--cluster-size", "3000"], "--cluster-size: invalid value \"3000\": qcow2 cluster sizes are powers of two from 512 to 2M"),
        BadInput(["run", "--cluster-size", "4M"], "--cluster-size: invalid value \"4M\""),
        BadInput(["run", "--l2-cache-entry-size", "128K"], "--l2-cache-entry-size: invalid value \"128K\""),
        BadInput(["run", "--l2-cache-entry-size", "3000"], "--l2-cache-entry-size: invalid value \"3000\""),
        BadInput(["run", "--l2-cache-entry-size", "256"], "--l2-cache-entry-size: invalid value \"256\": must be a power of two from 512 to the cluster size (64K)"),
        BadInput(["run", "--cluster-size", "4K", "--l2-cache-entry-size", "8K"], "--l2-cache-entry-size: invalid value \"8K\": must be a power of two from 512 to the cluster size (4K)"),
        BadInput(["run", "--cache-clean-interval=-3"], "--cache-clean-interval: invalid value \"-3\""),
        BadInput(["run", "--cache-clean-interval", "99999999999"], "--cache-clean-interval: invalid value \"99999999999\": expected a whole number of seconds from 0 to 4294967295"),
        BadInput(["run", "--l2-cache-size", "4K"], "--l2-cache-size: invalid value \"4K\": must hold at least 2 L2 cache entries"),
        BadInput(["run", "--refcount-cache-size", "64K"], "--refcount-cache-size: invalid value \"64K\": must hold at least 4 refcount blocks of the cluster size 64K (at least 256K)"),
        BadInput(["run", "--cache-size", "1M", "--l2-cache-size", "512K", "--refcount-cache-size", "256K"],
                 "--cache-size: invalid value \"1M\": cannot be set together with both l2_cache_size and refcount_cache_size"),
        BadInput(["run", "--cache-size", "1M", "--l2-cache-size", "2M"], "--l2-cache-size: invalid value \"2M\": may not exceed cache_size (1M)"),
        BadInput(["run", "--disk", "raw", "--refcount-cache-size", "1M"], "--disk: invalid value \"raw\"", "apply only to --disk qcow2"),
        BadInput(["run", "--disk", "raw", "--l2-cache-size", "1M"], "--disk: invalid value \"raw\"", "apply only to --disk qcow2"),
        BadInput(["run", "--disk", "null", "--cache-clean-interval", "5"], "--disk: invalid value \"null\"", "apply only to --disk qcow2"),
        BadInput(["run", "--disk", "null", "--cache-size", "1M"], "--disk: invalid value \"null\"", "apply only to --disk qcow2"),
        BadInput(["run", "--span", "0%"], "--span: invalid value \"0%\""),
        BadInput(["run", "--span", "101%"], "--span: invalid value \"101%\""),
        // 50 bytes is less than one 4K block: every write would land at offset 0.
        BadInput(["run", "--span", "50"], "--span: invalid value \"50\": must cover at least one block (4K)"),
        BadInput(["run", "--span", "6K"], "--span: invalid value \"6K\": must be a whole number of blocks (a multiple of 4K)"),
        BadInput(["run", "--span", "1G", "--block-size", "3M"], "--span: invalid value \"1G\": must be a whole number of blocks (a multiple of 3M)"),
        BadInput(["run", "--block-size", "1000"], "--block-size: invalid value \"1000\": must be a multiple of 512"),
        BadInput(["run", "--block-size", "32M"], "--block-size: invalid value \"32M\": must be a multiple of 512 bytes, at most 16M"),
        BadInput(["run", "--block-size", "2M", "--disk-size", "1M"], "--block-size: invalid value \"2M\": is larger than the disk (1M)"),
        BadInput(["run", "--iodepth", "0"], "--iodepth: invalid value \"0\": must be from 1 to 1024"),
        BadInput(["run", "--iodepth", "1025"], "--iodepth: invalid value \"1025\": must be from 1 to 1024"),
        BadInput(["run", "--iodepth=-1"], "--iodepth: invalid value \"-1\": must be from 1 to 1024"),
        BadInput(["run", "--runtime", "10x"], "--runtime: invalid value \"10x\""),
        BadInput(["run", "--runtime", ""], "--runtime: invalid value \"\""),
        BadInput(["run", "--ramp=-1s"], "--ramp: invalid value \"-1s\""),
        BadInput(["run", "--phases", "idle 4s"], "--phases: invalid value \"idle 4s\"", "the first is a write phase"),
        BadInput(["run", "--driver", "fio", "--phases", "write 1s,idle 1s"], "--phases: invalid value \"write 1s, idle 1s\": phases are run by the native driver only"),
        BadInput(["run", "--seed", "abc"], "'abc'", "'--seed <seed>'"),
        BadInput(["run", "--image-state", "snapshotted"], "'snapshotted'", "'--image-state <image-state>'", "'preallocated', 'allocated', 'fresh', 'snapshot' or 'overlay'"),
        BadInput(["run", "--driver", "spdk"], "'spdk'", "'--driver <driver>'", "'native' and 'fio'"),
        BadInput(["run", "--accel", "xen"], "'xen'", "'--accel <accel>'", "'auto', 'kvm' or 'tcg'"),
        BadInput(["run", "--kernel", "/nonexistent/kernel"], "guest kernel not found at /nonexistent/kernel", "--kernel DIR"),

        // bench --matrix: options.
        BadInput(["--matrix", "/nonexistent.toml"], "/nonexistent.toml: cannot read matrix file"),
        BadInput(["--matrix", "--repeat", "0"], "--repeat: invalid value \"0\": must be from 1 to 100"),
        BadInput(["--matrix", "--retries", "9"], "--retries: invalid value \"9\": must be from 0 to 5"),
        BadInput(["--matrix", "--runtime", "5parsecs"], "--runtime: invalid value \"5parsecs\""),
        BadInput(["--matrix", "--shard", "3/2"], "--shard: invalid value \"3/2\": must be I/N"),
        // Cells in guests of their own are dealt round-robin: shard 9 of 10 of one such cell is empty.
        // (Shared-guest cells run in every shard, in its own blocks, so the default matrix has no empty shard.)
        BadInput(["--matrix", "{m}", "--shard", "9/10"], toml: "[workload]\nisolation = \"guest-per-run\"\n", "--shard: invalid value \"9/10\": this shard holds no cells"),
        BadInput(["--matrix", "--resume", "/nonexistent-results"], "--resume: invalid value \"/nonexistent-results\": no results.jsonl there"),
        BadInput(["--matrix", "--resume", "{dir}/baseline"], "--resume: invalid value \"{dir}/baseline\": it holds runs of matrix synthetic"),
        BadInput(["--matrix", "--resume", "{dir}/baseline", "--output", "{dir}/out"], "--output: cannot be combined with --resume"),
        BadInput(["--matrix", "--output", "{dir}/baseline"], "--output: invalid value \"{dir}/baseline\": already holds results.jsonl"),
        // Setup fails after parsing: still no output directory.
        BadInput(["--matrix", "--kernel", "/nonexistent", "--output", "{dir}/out"], "guest kernel not found at /nonexistent", "--kernel DIR"),

        // Matrix files: file, key and value.
        BadInput(["--matrix", "{m}", "--output", "{dir}/out"], toml: "[cache]\nl2_cache_size = [\"64K\", \"12Q\"]\n", "{m}: cache.l2_cache_size: invalid value \"12Q\""),
        BadInput(["--matrix", "{m}"], toml: "[cache]\nl2_size = [\"1M\"]\n", "{m}: unknown key 'cache.l2_size'", "allowed: l2_cache_size"),
        // Paired-run keys and their overrides.
        BadInput(["--matrix", "{m}"], toml: "[workload]\nisolation = \"together\"\n", "{m}: workload.isolation: invalid value \"together\": must be one of: shared, guest-per-run"),
        BadInput(["--matrix", "{m}"], toml: "[workload]\ntarget_ci = \"0%\"\n", "{m}: workload.target_ci: invalid value \"0%\": must be a percentage above 0% and at most 50%"),
        BadInput(["--matrix", "{m}"], toml: "[workload]\nmin_blocks = 1\n", "{m}: workload.min_blocks: invalid value \"1\": must be from 2 to 1000"),
        BadInput(["--matrix", "{m}"], toml: "[workload]\nbudget = \"soon\"\n", "{m}: workload.budget: invalid value \"soon\""),
        BadInput(["--matrix", "{m}"], toml: "[workload]\nisolation = \"shared\"\n[image]\nstate = [\"snapshot\"]\n", "{m}: workload.isolation: invalid value \"shared\"", "a snapshot image is fully allocated"),
        BadInput(["--matrix", "--target-ci", "60%"], "--target-ci: invalid value \"60%\": must be a percentage above 0% and at most 50%"),
        BadInput(["--matrix", "--max-blocks", "1"], "--max-blocks: invalid value \"1\": must be from 2 to 1000"),
        BadInput(["--matrix", "--budget=-5m"], "--budget: invalid value \"-5m\""),
        BadInput(["--matrix", "--isolation", "together"], "--isolation: invalid value \"together\": must be one of: shared, guest-per-run"),
        BadInput(["--matrix", "{m}"], toml: "[workload]\niodepth = \"32\"\n", "{m}: workload.iodepth: invalid value \"32\": must be an integer, not a string"),
        BadInput(["--matrix", "{m}"], toml: "[workload]\niodepth = 2000\n", "{m}: workload.iodepth: invalid value \"2000\": must be from 1 to 1024"),
        BadInput(["--matrix", "{m}"], toml: "[workload]\nspan = \"50\"\n", "{m}: workload.span: invalid value \"50\": must cover at least one block (4K)"),
        BadInput(["--matrix", "{m}"], toml: "[workload]\nspan = \"6K\"\n", "{m}: workload.span: invalid value \"6K\": must be a whole number of blocks"),
        BadInput(["--matrix", "{m}"], toml: "[workload]\nblock_size = \"2M\"\n[image]\ndisk_size = [\"1M\"]\n", "{m}: workload.block_size: invalid value \"2M\": is larger than the disk (1M)"),
        BadInput(["--matrix", "{m}"], toml: "[workload]\nruntime = \"fast\"\n", "{m}: workload.runtime: invalid value \"fast\""),
        BadInput(["--matrix", "{m}"], toml: "[cache]\nl2_cache_size = []\n", "{m}: cache.l2_cache_size: invalid value \"[]\""),
        BadInput(["--matrix", "{m}"], toml: "[image]\ncluster_size = [\"3000\"]\n", "{m}: image.cluster_size: invalid value \"3000\""),
        BadInput(["--matrix", "{m}"], toml: "[image]\ndisk_size = [\"1048577\"]\n", "{m}: image.disk_size: invalid value \"1048577\": must be at least 1M and a multiple of 512 bytes"),
        BadInput(["--matrix", "{m}", "--output", "{dir}/out"], toml: "[image]\ndisk_size = [\"8P\"]\n", "image.disk_size: invalid value \"8P\": the images need 2 TiB", "is free there"),
        BadInput(["--matrix", "{m}"], toml: "[image]\nstate = [\"frozen\"]\n", "{m}: image.state: invalid value \"frozen\""),
        BadInput(["--matrix", "{m}"], toml: "[cache]\nrefcount_cache_size = [\"64K\"]\n", "{m}: cache.refcount_cache_size: invalid value \"64K\": must hold at least 4 refcount blocks"),
        BadInput(["--matrix", "{m}"], toml: "[cache]\ncache_size = [\"1M\"]\nl2_cache_size = [\"512K\"]\nrefcount_cache_size = [\"256K\"]\n",
                 "{m}: cache.cache_size: invalid value \"1M\": cannot be set together with both l2_cache_size and refcount_cache_size"),
        BadInput(["--matrix", "{m}"], toml: "[cache]\ncache_size = [\"1M\"]\nrefcount_cache_size = [\"2M\"]\n", "{m}: cache.refcount_cache_size: invalid value \"2M\": may not exceed cache_size (1M)"),
        BadInput(["--matrix", "{m}"], toml: "[cache]\ncache_size = [\"1.5M\"]\n", "{m}: cache.cache_size: invalid value \"1.5M\""),
        BadInput(["--matrix", "{m}"], toml: "[cache]\nl2_cache_entry_size = [\"128K\"]\n", "{m}: cache.l2_cache_entry_size: invalid value \"128K\""),
        BadInput(["--matrix", "{m}"], toml: "[host]\ncache = [\"bogus\"]\n", "{m}: host.cache: invalid value \"bogus\": must be one of none, writeback"),
        BadInput(["--matrix", "{m}"], toml: "[host]\ncache = [\"writeback\"]\n", "{m}: host.aio: invalid value \"native\": needs O_DIRECT"),
        BadInput(["--matrix", "{m}"], toml: "[reference]\nnull = \"yes\"\n", "{m}: reference.null: invalid value \"yes\""),
        BadInput(["--matrix", "{m}"], toml: "[[exclude]]\niodepth = 1\n", "{m}: unknown key 'exclude[1].iodepth'"),
        BadInput(["--matrix", "{m}"], toml: "name = [\n", "{m}: TOML syntax error at line"),

        // QEMU builds: --qemu-build NAME=PATH and host.qemu_build, refused before anything boots.
        BadInput(["run", "--qemu-build", "a=/usr/bin/qemu-system-x86_64", "--qemu-build", "b=/usr/bin/qemu-system-x86_64"],
                 "--qemu-build: invalid value \"a=/usr/bin/qemu-system-x86_64 b=/usr/bin/qemu-system-x86_64\": bench run measures one build"),
        BadInput(["calibrate", "--qemu-build", "a=/usr/bin/qemu-system-x86_64", "--qemu-build", "b=/usr/bin/qemu-system-x86_64"],
                 "--qemu-build: invalid value \"a=/usr/bin/qemu-system-x86_64 b=/usr/bin/qemu-system-x86_64\": bench calibrate measures one build"),
        BadInput(["run", "--qemu-build", "base=/usr/bin/true"], "--qemu-build: invalid value \"base=/usr/bin/true\": `--version` printed no QEMU version"),
        BadInput(["calibrate", "--qemu-build", "base=/nonexistent/qemu"], "--qemu-build: invalid value \"base=/nonexistent/qemu\": /nonexistent/qemu does not exist"),
        BadInput(["doctor", "--qemu-build", "base=/nonexistent/qemu"], "--qemu-build: invalid value \"base=/nonexistent/qemu\": /nonexistent/qemu does not exist"),
        BadInput(["--matrix", "{m}", "--qemu-build", "base=/nonexistent/qemu-system-x86_64"], toml: "name = \"ab\"\n",
                 "--qemu-build: invalid value \"base=/nonexistent/qemu-system-x86_64\": /nonexistent/qemu-system-x86_64 does not exist; PATH must be an executable file, a qemu-system-x86_64"),
        BadInput(["--matrix", "{m}", "--qemu-build", "base={dir}/garbled/results.jsonl"], toml: "name = \"ab\"\n",
                 "--qemu-build: invalid value \"base={dir}/garbled/results.jsonl\": {dir}/garbled/results.jsonl is not executable; PATH must be an executable file"),
        BadInput(["--matrix", "{m}", "--qemu-build", "base={dir}/garbled"], toml: "name = \"ab\"\n", "--qemu-build: invalid value \"base={dir}/garbled\": {dir}/garbled is a directory"),
        BadInput(["--matrix", "{m}", "--qemu-build", "/usr/bin/qemu-system-x86_64"], toml: "name = \"ab\"\n",
                 "--qemu-build: invalid value \"/usr/bin/qemu-system-x86_64\": must be NAME=PATH"),
        BadInput(["--matrix", "{m}", "--qemu-build", "=/usr/bin/qemu-system-x86_64"], toml: "name = \"ab\"\n", "--qemu-build: invalid value \"=/usr/bin/qemu-system-x86_64\": must be NAME=PATH"),
        BadInput(["--matrix", "{m}", "--qemu-build", "base="], toml: "name = \"ab\"\n", "--qemu-build: invalid value \"base=\": must be NAME=PATH"),
        BadInput(["--matrix", "{m}", "--qemu-build", "my build=/usr/bin/qemu-system-x86_64"], toml: "name = \"ab\"\n",
                 "--qemu-build: invalid value \"my build\": a build name must be 1 to 64 characters: letters, digits, '-', '_' or '.'"),
        BadInput(["--matrix", "{m}", "--qemu-build", "base=/usr/bin/qemu-system-x86_64", "--qemu-build", "base=/usr/bin/qemu-system-x86_64"], toml: "name = \"ab\"\n",
                 "--qemu-build: invalid value \"base=/usr/bin/qemu-system-x86_64\": build \"base\" is given twice; give each name once"),
        BadInput(["--matrix", "{m}", "--qemu-build", "base=/usr/bin/true"], toml: "name = \"ab\"\n",
                 "--qemu-build: invalid value \"base=/usr/bin/true\": `--version` printed no QEMU version", "a build must be a qemu-system-x86_64"),
        BadInput(["--matrix", "{m}", "--qemu-build", "base=/usr/bin/qemu-system-x86_64", "--qemu-img-build", "other=/usr/bin/qemu-img"], toml: "name = \"ab\"\n",
                 "--qemu-img-build: invalid value \"other=/usr/bin/qemu-img\": names no build given with --qemu-build"),
        BadInput(["--matrix", "{m}", "--qemu-build", "base=/usr/bin/qemu-system-x86_64"], toml: "[host]\nqemu_build = [\"base\", \"patched\"]\n",
                 "{m}: host.qemu_build: invalid value \"patched\": no build of that name was given; pass --qemu-build patched=PATH (given: base)"),
        BadInput(["--matrix", "{m}"], toml: "[host]\nqemu_build = [\"base\"]\n",
                 "{m}: host.qemu_build: invalid value \"base\": no build of that name was given; pass --qemu-build base=PATH (given: none)"),
        BadInput(["--matrix", "{m}", "--qemu-build", "base=/usr/bin/qemu-system-x86_64", "--qemu-build", "extra=/usr/bin/qemu-system-x86_64"],
                 toml: "[host]\nqemu_build = [\"base\"]\n", "--qemu-build: invalid value \"extra\": the matrix's host.qemu_build does not list it (base)"),
        BadInput(["--matrix", "{m}"], toml: "[host]\nqemu_build = [\"a/b\"]\n", "{m}: host.qemu_build: invalid value \"a/b\": a build name must be"),
        BadInput(["--matrix", "{m}"], toml: "[[exclude]]\nqemu_build = \"system\"\n", "{m}: exclude[1].qemu_build: invalid value \"system\": an exclusion cannot name a build"),

        // bench calibrate and doctor.
        BadInput(["calibrate", "--runs", "1"], "--runs: invalid value \"1\": must be from 2 to 100"),
        BadInput(["calibrate", "--runtime", "0s"], "--runtime: invalid value \"0s\""),
        BadInput(["calibrate", "--ramp", "soon"], "--ramp: invalid value \"soon\""),
        BadInput(["calibrate", "--isolation", "alone"], "--isolation: invalid value \"alone\": must be one of: shared, guest-per-run"),
        BadInput(["calibrate", "--trace", "most"], "--trace: invalid value \"most\": must be one of: off, sampled, full, alternate"),
        BadInput(["calibrate", "--kernel", "/nonexistent", "--records", "{dir}/records.jsonl"], "guest kernel not found at /nonexistent"),
        BadInput(["doctor", "--accel", "xen"], "'xen'", "'--accel <accel>'"),

        // Results commands, on the fixture directories (baseline, current, other, empty, garbled).
        BadInput(["report", "/nonexistent-dir"], "cannot read records: /nonexistent-dir/results.jsonl"),
        BadInput(["report", "baseline", "--update-docs", "README.md", "--docs-section", "Cache Size"],
                 "--docs-section: invalid value \"Cache Size\": must be 1 to 40 lowercase letters, digits or '-'"),
        BadInput(["report", "baseline", "--update-docs", "missing.md"], "--update-docs: invalid value \"missing.md\": cannot read the file"),
        BadInput(["compare", "baseline", "missing"], "cannot read records: missing/results.jsonl"),
        BadInput(["compare", "baseline"], "current: missing: give BASELINE and CURRENT, or one directory with --builds BASE,COMPARED"),
        BadInput(["compare", "baseline", "--builds", "base"], "--builds: invalid value \"base\": must be two build names, BASE,COMPARED"),
        BadInput(["compare", "baseline", "--builds", "base,base"], "--builds: invalid value \"base,base\": name two different builds"),
        BadInput(["compare", "baseline", "current", "--builds", "base,patched"], "current: invalid value \"current\": with --builds give one results directory"),
        BadInput(["compare", "baseline", "--builds", "base,patched"], "--builds: invalid value \"base\": no record of that build; these results ran system"),
        BadInput(["compare", "--confidence", "1.5", "baseline", "current"], "--confidence: invalid value \"1.5\""),
        BadInput(["compare", "--confidence", "0", "baseline", "current"], "--confidence: invalid value \"0.0\""),
        BadInput(["compare", "--confidence", "high", "baseline", "current"], "'high'", "'--confidence <confidence>'"),
        BadInput(["compare", "--threshold", "abc", "baseline", "current"], "--threshold: invalid value \"abc\""),
        BadInput(["compare", "--threshold", "2000", "baseline", "current"], "--threshold: invalid value \"2000\": must be a percentage from 0 to 1000"),
        BadInput(["compare", "baseline", "other"], "have no cell in common"),
        BadInput(["compare", "baseline", "empty"], "empty/results.jsonl: no records"),
        BadInput(["compare", "baseline", "garbled"], "garbled/results.jsonl:1: not a run record"),
        BadInput(["replay", "--drop", "0", "baseline"], "--drop: invalid value \"0\": must be a percentage above 0 and below 100"),
        BadInput(["replay", "--drop", "100%", "baseline"], "--drop: invalid value \"100%\": must be a percentage above 0 and below 100"),
        BadInput(["replay", "--drop", "lots", "baseline"], "--drop: invalid value \"lots\""),
        BadInput(["replay", "--nights", "0", "baseline"], "--nights: invalid value \"0\": must be from 1 to 100000"),
        BadInput(["replay", "--blocks", "1", "baseline"], "--blocks: invalid value \"1\": must be from 2 to 10000"),
        BadInput(["replay", "--cell", " ", "baseline"], "--cell: invalid value \" \": must name a cell"),
        BadInput(["replay", "--pool", "halves", "baseline"], "'halves'", "'--pool <pool>'", "'independent' and 'split'"),
        BadInput(["replay", "--confidence", "1.5", "baseline"], "--confidence: invalid value \"1.5\""),
        BadInput(["replay", "--threshold", "abc", "baseline"], "--threshold: invalid value \"abc\""),
        BadInput(["replay", "missing"], "cannot read records: missing/results.jsonl"),
        // The fixtures ran each cell in its own guest: no blocks to resample.
        BadInput(["replay", "baseline"], "baseline: no successful shared-guest slot records; replay needs paired blocks"),
        BadInput(["merge", "out"], "missing shard directories: bench merge OUT DIR..."),
        BadInput(["merge", "baseline", "current"], "baseline: already holds results.jsonl"),
        BadInput(["merge", "out", "baseline", "current"], "is in both baseline and current; each cell belongs to one shard"),
        BadInput(["merge", "out", "missing"], "cannot read records: missing/results.jsonl"),
        BadInput(["baseline", "promote", "/nonexistent"], "/nonexistent: no results.jsonl"),
        BadInput(["baseline", "promote", "current", "--to", "baseline"], "baseline: a baseline already exists; pass --force to replace it"),
    ]

    /// A working directory with result fixtures and an empty TMPDIR.
    static func fixtures() throws -> String {
        let dir = try makeTempDir()
        let a = SyntheticResults.qcow2(.kib(256))
        let b = SyntheticResults.qcow2(.mib(2))
        try SyntheticResults.write(SyntheticResults.records([(a, SyntheticResults.tight)]), to: dir + "/baseline")
        try SyntheticResults.write(SyntheticResults.records([(a, SyntheticResults.tight)]), to: dir + "/current")
        try SyntheticResults.write(SyntheticResults.records([(b, SyntheticResults.tight)]), to: dir + "/other")
        try SyntheticResults.write([], to: dir + "/empty")
        try FileManager.default.createDirectory(atPath: dir + "/garbled", withIntermediateDirectories: true)
        try "{not json}\n{}\n".write(toFile: dir + "/garbled/results.jsonl", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        return dir
    }

    @Test func thereAreAtLeastFortyCases() {
        #expect(Self.cases.count >= 40)
    }

    @Test(arguments: cases)
    func rejected(_ input: BadInput) async throws {
        let dir = try Self.fixtures()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let matrixFile = dir + "/m.toml"
        if let toml = input.toml { try toml.write(toFile: matrixFile, atomically: true, encoding: .utf8) }
        func expand(_ s: String) -> String {
            s.replacingOccurrences(of: "{m}", with: matrixFile).replacingOccurrences(of: "{dir}", with: dir)
        }
        let before = try snapshotOfTree(dir)
        let out = try await bench(input.args.map(expand), in: dir, tmpdir: dir + "/tmp")
        #expect(exitCode(out) == 2, "stdout: \(out.stdout) stderr: \(out.stderr)")
        let lines = out.stderr.split(separator: "\n")
        #expect(lines.count == 1 && out.stderr.hasPrefix("error: "), "expected one error line, got: \(out.stderr)")
        for e in input.expected.map(expand) {
            #expect(out.stderr.contains(e), "missing \"\(e)\" in: \(out.stderr)")
        }
        #expect(out.stdout.isEmpty, "stdout: \(out.stdout)")
        #expect(try snapshotOfTree(dir) == before, "bad input left files or directories behind")
        #expect(QemuProcesses.running(commandLineContaining: dir).isEmpty, "bad input left QEMU running")
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
        // Host noise on every run: the guest powers off right after its
        // result, and half the runs once lost their window to that race.
        #expect(records.allSatisfy { $0.host != nil }, "\(records.map { $0.host == nil })")

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
        #expect(out.stderr.hasPrefix("error: image.disk_size: invalid value \"64G\": the images need 64 GiB"), "\(out.stderr)")
        #expect(out.stderr.contains("but only 8 MiB is free there"), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }
}
