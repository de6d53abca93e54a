import Foundation
import Qcow2Geometry
import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// A command described as a value: its argv is built without a shell, can be
/// unit-tested without running anything, and is stored in records verbatim.
public protocol ModeledCommand: Sendable {
    var argv: [String] { get }
}

/// The collected result of a short-lived host tool (qemu-img, git, strip).
public struct ToolOutput: Sendable {
    public var status: TerminationStatus
    public var stdout: String
    public var stderr: String
    public var succeeded: Bool { status.isSuccess }
}

public enum ToolRunner {
    /// Runs `argv` with bounded output capture (1 MiB each). A non-zero exit
    /// is returned, not thrown; failing to start throws `toolMissing`.
    /// `environment` entries are added to (or replace) the inherited ones.
    /// With `watching`, a run longer than `ProgressNote.interval` prints a
    /// line on stderr every interval: elapsed time and the size of those files.
    /// The tool dies with the harness (see `DiesWithHarness`).
    public static func run(
        _ argv: [String], workingDirectory: String? = nil, environment: [String: String] = [:], watching: [String]? = nil
    ) async throws(OrchestratorError) -> ToolOutput {
        guard let tool = argv.first else { throw .toolMissing(tool: "(empty command)", hint: "internal error") }
        guard let resolved = tool.contains("/") ? tool : ExecutableSearch.find(tool) else {
            throw .toolMissing(tool: tool, hint: "not on PATH; run scripts/setup")
        }
        let wrapped = try DiesWithHarness.argv([resolved] + argv.dropFirst())
        let progress = watching.map { files in Task { await ProgressNote.repeatEvery(argv: argv, files: files) } }
        defer { progress?.cancel() }
        do {
            let r = try await Subprocess.run(
                .path(FilePath(wrapped[0])),
                arguments: Arguments(Array(wrapped.dropFirst())),
                environment: .inherit.updating(
                    Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), Optional($0.value)) })),
                workingDirectory: workingDirectory.map { FilePath($0) },
                output: .bytes(limit: 1 << 20),
                error: .bytes(limit: 1 << 20)
            )
            let stderr = String(decoding: r.standardError, as: UTF8.self)
            if case .exited(127) = r.terminationStatus, stderr.hasPrefix("setpriv: failed to execute") {
                throw OrchestratorError.toolMissing(tool: tool, hint: "\(stderr.trimmingCharacters(in: .whitespacesAndNewlines)); run scripts/setup")
            }
            return ToolOutput(status: r.terminationStatus, stdout: String(decoding: r.standardOutput, as: UTF8.self), stderr: stderr)
        } catch let error as OrchestratorError {
            throw error
        } catch {
            throw .toolMissing(tool: tool, hint: "\(error); run scripts/setup")
        }
    }
}

/// Every process the harness starts (QEMU, qemu-img, helpers) must die with
/// it, even on `kill -9`, which no handler can see. So each is started as
/// `setpriv --pdeathsig KILL -- TOOL ARGS...`: setpriv sets
/// `PR_SET_PDEATHSIG` and execs the tool in the same process, which keeps it
/// across `execve` (QEMU is not set-uid).
///
/// The death signal fires when the *thread* that forked the child ends, not
/// the process. swift-subprocess forks every child on one private worker
/// thread that it starts once and keeps until `exit` (`runOnBackgroundThread`
/// in its Thread.swift), never on the cooperative pool, whose idle threads
/// may end and would kill a running QEMU. So the signal comes exactly when
/// the harness process goes.
public enum DiesWithHarness {
    /// `argv` prefixed with setpriv; throws when util-linux's setpriv is missing.
    public static func argv(_ argv: [String]) throws(OrchestratorError) -> [String] {
        guard let setpriv = ExecutableSearch.find("setpriv") else {
            throw .toolMissing(tool: "setpriv", hint: "install util-linux (apt-get install util-linux); it makes QEMU die with the harness")
        }
        return [setpriv, "--pdeathsig", "KILL", "--"] + argv
    }
}

/// The one PATH lookup of the harness.
public enum ExecutableSearch {
    /// The first executable `name` on `$PATH` (or /usr/bin:/bin), or nil.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}

/// A line on stderr every `interval` while a slow tool runs (a 16G image
/// with 512-byte clusters takes minutes to preallocate): silence for that
/// long looks like a hang.
enum ProgressNote {
    static let interval = Duration.seconds(5)

    static func repeatEvery(argv: [String], files: [String]) async {
        let clock = ContinuousClock()
        let started = clock.now
        let name = argv.prefix(2).joined(separator: " ")
        while (try? await Task.sleep(for: interval)) != nil {
            let elapsed = (clock.now - started).components.seconds
            let bytes = files.compactMap(allocatedBytes).reduce(0, +)
            let size = bytes > 0 ? ", \(ByteSize(bytes).humanReadable) written so far" : ""
            FileHandle.standardError.write(Data("still preparing: \(name) running for \(elapsed) s\(size)\n".utf8))
        }
    }

    /// Host bytes allocated to `path` (st_blocks), nil when absent.
    static func allocatedBytes(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_blocks) * 512
    }
}
