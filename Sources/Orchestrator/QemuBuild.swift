import BenchResults
import BenchSpec
import Foundation
import Qcow2Geometry

/// One QEMU build the harness can run: a `qemu-system-x86_64` (a build
/// tree's binary, or a wrapper around one) and the `qemu-img` that goes with
/// it, with what identifies them in records. `system` is the pair on PATH.
public struct QemuBuild: Hashable, Sendable {
    public var name: String
    /// Absolute path of `qemu-system-x86_64`.
    public var qemu: String
    /// Absolute path of `qemu-img`.
    public var qemuImg: String
    /// First line of `qemu --version`.
    public var versionLine: String
    public var version: QemuVersion
    /// SHA-256 of `qemu`, lowercase hex.
    public var sha256: String

    public init(name: String, qemu: String, qemuImg: String, versionLine: String, version: QemuVersion, sha256: String) {
        self.name = name
        self.qemu = qemu
        self.qemuImg = qemuImg
        self.versionLine = versionLine
        self.version = version
        self.sha256 = sha256
    }

    public var provenance: QemuBuildProvenance {
        QemuBuildProvenance(name: name, path: qemu, version: versionLine, sha256: sha256, qemuImg: qemuImg)
    }

    /// `7.2.22 (Debian …)`: what `Provenance.qemuVersion` has always held.
    public var versionText: String { HostEnvironment.version(from: versionLine) }

    /// The two binaries of a build, checked without running anything:
    /// each exists, is a regular file and is executable.
    /// - Parameters:
    ///   - qemu: path given with `--qemu-build`, or nil for `qemu-system-x86_64` on PATH.
    ///   - qemuImg: `--qemu-img-build`, else `qemu-img` beside `qemu` (PATH for `system`).
    /// - Returns: absolute paths of `qemu-system-x86_64` and `qemu-img`.
    public static func locate(name: String, qemu: String?, qemuImg: String?) throws(QemuBuildError) -> (qemu: String, qemuImg: String) {
        let q: String
        if let qemu {
            q = absolute(qemu)
            if let why = unusable(q) { throw .notExecutable(field: "--qemu-build", name: name, path: qemu, why: why) }
        } else {
            guard let found = ExecutableSearch.find("qemu-system-x86_64") else {
                throw .notOnPath(name: name, tool: "qemu-system-x86_64")
            }
            q = found
        }
        let img: String
        if let qemuImg {
            img = absolute(qemuImg)
            if let why = unusable(img) { throw .notExecutable(field: "--qemu-img-build", name: name, path: qemuImg, why: why) }
        } else if qemu == nil {
            guard let found = ExecutableSearch.find("qemu-img") else { throw .notOnPath(name: name, tool: "qemu-img") }
            img = found
        } else {
            let beside = URL(fileURLWithPath: q).deletingLastPathComponent().appendingPathComponent("qemu-img").path
            guard unusable(beside) == nil else { throw .noQemuImg(name: name, looked: beside) }
            img = beside
        }
        return (q, img)
    }

    /// Why `path` cannot be run, or nil when it is an executable regular file.
    static func unusable(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "\(path) does not exist" }
        if isDirectory.boolValue { return "\(path) is a directory" }
        guard FileManager.default.isExecutableFile(atPath: path) else { return "\(path) is not executable" }
        return nil
    }

    /// Checks a build before anything starts: both binaries exist and are
    /// executable (`locate`), `--version` runs, says it is QEMU and names a
    /// version the cache model knows; then hashes the binary.
    public static func resolve(name: String, qemu: String?, qemuImg: String?) async throws(QemuBuildError) -> QemuBuild {
        let (q, img) = try locate(name: name, qemu: qemu, qemuImg: qemuImg)
        let out: ToolOutput
        do { out = try await ToolRunner.run([q, "--version"]) } catch {
            throw .versionFailed(name: name, path: q, why: "\(error)")
        }
        let line = out.stdout.split(separator: "\n").first.map(String.init) ?? ""
        guard out.succeeded else {
            throw .versionFailed(name: name, path: q, why: "exited \(GuestLauncher.describe(out.status)): \(out.stderr.split(separator: "\n").last ?? "")")
        }
        guard line.hasPrefix("QEMU emulator version "), let version = QemuVersion(parsing: line) else {
            throw .versionFailed(name: name, path: q, why: "printed no QEMU version (\"\(line)\")")
        }
        if let why = QemuCacheModel.unsupportedReason(version) { throw .tooOld(name: name, path: q, why: why) }
        let hash: String
        do { hash = try await sha256(of: q) } catch { throw .versionFailed(name: name, path: q, why: "cannot hash it: \(error)") }
        return QemuBuild(name: name, qemu: q, qemuImg: img, versionLine: line, version: version, sha256: hash)
    }

    /// `sha256sum` from coreutils: the binary is hashed once per invocation.
    static func sha256(of path: String) async throws(OrchestratorError) -> String {
        let out = try await ToolRunner.run(["sha256sum", "--", path])
        guard out.succeeded, let hex = out.stdout.split(separator: " ").first, hex.count == 64 else {
            throw .toolFailed(argv: ["sha256sum", "--", path], status: GuestLauncher.describe(out.status), stderr: out.stderr)
        }
        return String(hex)
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// A build that cannot be used; each says which option, name and path,
/// and what a build must be.
public enum QemuBuildError: Error, CustomStringConvertible, Sendable, Equatable {
    case notExecutable(field: String, name: String, path: String, why: String)
    case notOnPath(name: String, tool: String)
    case noQemuImg(name: String, looked: String)
    case versionFailed(name: String, path: String, why: String)
    case tooOld(name: String, path: String, why: String)

    public var description: String {
        switch self {
        case .notExecutable(let field, let name, let path, let why):
            let what = field == "--qemu-img-build" ? "a qemu-img" : "a qemu-system-x86_64 (a build tree's, or a script that runs one)"
            return "\(field): invalid value \"\(name)=\(path)\": \(why); PATH must be an executable file, \(what)"
        case .notOnPath(let name, let tool):
            return "qemu build \"\(name)\": \(tool) is not on PATH; run scripts/setup, or give the build with --qemu-build NAME=PATH"
        case .noQemuImg(let name, let looked):
            return "--qemu-build: invalid value for build \"\(name)\": no executable qemu-img beside it (\(looked)); give one with --qemu-img-build \(name)=PATH"
        case .versionFailed(let name, let path, let why):
            return "--qemu-build: invalid value \"\(name)=\(path)\": `--version` \(why); a build must be a qemu-system-x86_64, whose --version starts \"QEMU emulator version\""
        case .tooOld(let name, let path, let why):
            return "--qemu-build: invalid value \"\(name)=\(path)\": \(why); use QEMU \(QemuCacheModel.oldestModelledQemu) or newer"
        }
    }
}
