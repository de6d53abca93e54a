import Foundation
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
    public static func run(
        _ argv: [String], workingDirectory: String? = nil, environment: [String: String] = [:]
    ) async throws(OrchestratorError) -> ToolOutput {
        guard let tool = argv.first else { throw .toolMissing(tool: "(empty command)", hint: "internal error") }
        let executable: Executable = tool.contains("/") ? .path(FilePath(tool)) : .name(tool)
        do {
            let r = try await Subprocess.run(
                executable,
                arguments: Arguments(Array(argv.dropFirst())),
                environment: .inherit.updating(
                    Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), Optional($0.value)) })),
                workingDirectory: workingDirectory.map { FilePath($0) },
                output: .bytes(limit: 1 << 20),
                error: .bytes(limit: 1 << 20)
            )
            return ToolOutput(
                status: r.terminationStatus,
                stdout: String(decoding: r.standardOutput, as: UTF8.self),
                stderr: String(decoding: r.standardError, as: UTF8.self))
        } catch {
            throw .toolMissing(tool: tool, hint: "\(error); run scripts/setup")
        }
    }
}
