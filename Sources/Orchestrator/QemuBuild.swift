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

    /// Checks a build before anything starts: both binaries exist and are
    /// executable, `--version` runs and names a version the cache model
    /// knows; then hashes the binary.
    /// - Parameters:
    ///   - qemu: path given with `--qemu-build`, or nil for `qemu-system-x86_64` on PATH.
    ///   - qemuImg: `--qemu-img-build`, else `qemu-img` beside `qemu` (PATH for `system`).
    public static func resolve(name: String, qemu: String?, qemuImg: String?) async throws(QemuBuildError) -> QemuBuild {
        let field = qemu == nil ? "qemu-system-x86_64" : "--qemu-build"
        let given = qemu ?? "qemu-system-x86_64"
        guard let q = qemu.map(absolute) ?? ExecutableSearch.find(given) else {
            throw .notExecutable(field: field, name: name, path: given, why: "not on PATH (run scripts/setup)")
        }
        guard FileManager.default.isExecutableFile(atPath: q) else {
            throw .notExecutable(field: field, name: name, path: given, why: FileManager.default.fileExists(atPath: q) ? "is not executable" : "does not exist")
        }
        let img: String
        if let qemuImg {
            img = absolute(qemuImg)
            guard FileManager.default.isExecutableFile(atPath: img) else {
                throw .notExecutable(field: "--qemu-img-build", name: name, path: qemuImg, why: "is not an executable file")
            }
        } else if qemu == nil {
            guard let found = ExecutableSearch.find("qemu-img") else {
                throw .notExecutable(field: "qemu-img", name: name, path: "qemu-img", why: "not on PATH (run scripts/setup)")
            }
            img = found
        } else {
            let beside = URL(fileURLWithPath: q).deletingLastPathComponent().appendingPathComponent("qemu-img").path
            guard FileManager.default.isExecutableFile(atPath: beside) else {
                throw .noQemuImg(name: name, looked: beside)
            }
            img = beside
        }
        let out: ToolOutput
        do { out = try await ToolRunner.run([q, "--version"]) } catch {
            throw .versionFailed(name: name, path: q, why: "\(error)")
        }
        let line = out.stdout.split(separator: "\n").first.map(String.init) ?? ""
        guard out.succeeded else {
            throw .versionFailed(name: name, path: q, why: "exited \(GuestLauncher.describe(out.status)): \(out.stderr.split(separator: "\n").last ?? "")")
        }
        guard let version = QemuVersion(parsing: line) else {
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

/// A build that cannot be used; each says which option, name and path.
public enum QemuBuildError: Error, CustomStringConvertible, Sendable, Equatable {
    case notExecutable(field: String, name: String, path: String, why: String)
    case noQemuImg(name: String, looked: String)
    case versionFailed(name: String, path: String, why: String)
    case tooOld(name: String, path: String, why: String)

    public var description: String {
        switch self {
        case .notExecutable(let field, let name, let path, let why):
            return "\(field): invalid value \"\(name)=\(path)\": \(why)"
        case .noQemuImg(let name, let looked):
            return "--qemu-build: invalid value for build \"\(name)\": no qemu-img beside it (\(looked)); give one with --qemu-img-build \(name)=PATH"
        case .versionFailed(let name, let path, let why):
            return "--qemu-build: invalid value \"\(name)=\(path)\": `--version` \(why); a build must be a qemu-system-x86_64"
        case .tooOld(let name, let path, let why):
            return "--qemu-build: invalid value \"\(name)=\(path)\": \(why); use QEMU \(QemuCacheModel.oldestModelledQemu) or newer"
        }
    }
}
