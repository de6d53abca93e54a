import Foundation

/// Facts about the host that every record carries, gathered once.
public struct HostEnvironment: Sendable, Codable, Hashable {
    public var qemuVersion: String
    public var hostCPU: String
    public var hostKernel: String
    public var gitRevision: String

    public static func gather(qemu: String = "qemu-system-x86_64", repository: String? = nil) async -> HostEnvironment {
        func firstLine(_ s: String) -> String { s.split(separator: "\n").first.map(String.init) ?? "" }
        let q = (try? await ToolRunner.run([qemu, "--version"])).map { firstLine($0.stdout) } ?? "unknown"
        let cpu = ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
            .split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let kernel = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "unknown")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return HostEnvironment(
            qemuVersion: Self.version(from: q),
            hostCPU: cpu, hostKernel: kernel, gitRevision: await gitRevision(repository))
    }

    /// `QEMU emulator version 7.2.19 (Debian …)` -> `7.2.19 (Debian …)`.
    static func version(from line: String) -> String {
        guard let r = line.range(of: "version ") else { return line.isEmpty ? "unknown" : line }
        return String(line[r.upperBound...])
    }

    /// Short commit of the harness, with `-dirty` when the tree has changes.
    static func gitRevision(_ repository: String?) async -> String {
        let dir = repository ?? FileManager.default.currentDirectoryPath
        guard let rev = try? await ToolRunner.run(["git", "-C", dir, "rev-parse", "--short=12", "HEAD"]), rev.succeeded else {
            return "unknown"
        }
        let id = rev.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let dirty = (try? await ToolRunner.run(["git", "-C", dir, "status", "--porcelain", "--untracked-files=no"]))
            .map { !$0.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } ?? false
        return dirty ? id + "-dirty" : id
    }

    /// File system type of `path` (ext4, xfs, btrfs, tmpfs, overlay…).
    /// findmnt names ext4 as such; `stat -f` (the fallback) reports "ext2/ext3".
    public static func filesystemType(of path: String) async -> String {
        for argv in [["findmnt", "-n", "-o", "FSTYPE", "-T", path], ["stat", "-f", "-c", "%T", path]] {
            if let out = try? await ToolRunner.run(argv), out.succeeded {
                let fs = out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                if !fs.isEmpty { return fs }
            }
        }
        return "unknown"
    }
}
