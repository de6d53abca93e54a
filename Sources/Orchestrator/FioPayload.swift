import Foundation
import GuestWire

/// The host's fio and everything its dynamic loader needs, as files to copy
/// into the fio variant of the initramfs: the binary, its ELF interpreter at
/// the absolute path the binary names, and every shared library `ldd`
/// resolves, flat in `FioJob.libraryDirectory`.
public struct FioPayload: Sendable, Hashable {
    /// One file of the payload: where it goes in the guest, where it comes from.
    public struct File: Sendable, Hashable {
        public var guestPath: String
        public var hostPath: String
    }

    public var files: [File]

    /// Finds fio (`fio` on PATH unless `binary` is given) and its libraries.
    public static func locate(binary: String? = nil) async throws(OrchestratorError) -> FioPayload {
        let fio = binary ?? ExecutableSearch.find("fio")
        guard let fio, FileManager.default.isExecutableFile(atPath: fio) else {
            throw .toolMissing(tool: binary ?? "fio", hint: "install it with apt-get install fio (or run scripts/setup); needed for --driver fio")
        }
        let out = try await ToolRunner.run(["ldd", fio])
        guard out.succeeded else { throw .toolFailed(argv: ["ldd", fio], status: "\(out.status)", stderr: out.stderr + out.stdout) }
        return try FioPayload(binary: fio, ldd: out.stdout)
    }

    /// Builds the payload from `ldd BINARY` output.
    ///
    /// Lines are `name => /path (0x…)` (a library), `/path (0x…)` (the
    /// interpreter), `name (0x…)` (the vDSO, which has no file) or
    /// `name => not found`, which is refused: fio would not start.
    init(binary: String, ldd: String) throws(OrchestratorError) {
        var files = [File(guestPath: FioJob.executable, hostPath: binary)]
        var seen: [String: String] = [:]
        for raw in ldd.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.contains("statically linked") { continue }
            if let arrow = line.range(of: "=>") {
                let name = line[..<arrow.lowerBound].trimmingCharacters(in: .whitespaces)
                let target = line[arrow.upperBound...].trimmingCharacters(in: .whitespaces)
                guard target.hasPrefix("/") else {
                    throw .toolMissing(
                        tool: "\(name) (a library \(binary) needs)",
                        hint: "ldd says \"\(target)\"; reinstall fio (apt-get install --reinstall fio)")
                }
                let path = Self.pathBeforeAddress(target)
                let base = (path as NSString).lastPathComponent
                if let other = seen[base], other != path {
                    throw .toolFailed(
                        argv: ["ldd", binary], status: "duplicate library name",
                        stderr: "\(base) resolves to both \(other) and \(path); they cannot share \(FioJob.libraryDirectory)")
                }
                if seen[base] == nil {
                    seen[base] = path
                    files.append(File(guestPath: FioJob.libraryDirectory + "/" + base, hostPath: path))
                }
            } else if line.hasPrefix("/") {
                let path = Self.pathBeforeAddress(line)
                files.append(File(guestPath: path, hostPath: path))
            }
        }
        self.files = files
    }

    /// `/lib/x.so.1 (0x00007f…)` -> `/lib/x.so.1`.
    static func pathBeforeAddress(_ text: String) -> String {
        if let paren = text.range(of: " (0x") { return String(text[..<paren.lowerBound]) }
        return text
    }
}
