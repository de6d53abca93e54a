import Foundation

/// A private (0700) scratch directory for one harness invocation: images,
/// console logs, stderr. Removed by `remove()`, which callers run on every
/// exit path.
public final class WorkDirectory: Sendable {
    public let path: String

    /// Where work directories go: `$TMPDIR`, else /var/tmp (disk-backed on
    /// most systems, unlike /tmp, so images measure real storage).
    public static var defaultParent: String {
        ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/tmp"
    }

    /// Bytes available to this user on the file system holding `path`.
    public static func availableBytes(at path: String) -> UInt64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return UInt64(st.f_bavail) * UInt64(st.f_frsize)
    }

    static let namePrefix = "qcow2-cache-bench."
    /// `PID STARTTIME` of the harness that made the directory.
    static let ownerFileName = "owner"

    /// Creates `$TMPDIR/qcow2-cache-bench.XXXXXX` (or under `parent`), after
    /// removing directories there whose harness is gone (`removeStale`).
    public init(parent: String? = nil) throws(OrchestratorError) {
        let base = parent ?? Self.defaultParent
        Self.removeStale(in: base)
        var template = Array("\(base)/\(Self.namePrefix)XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buf -> Bool in
            guard let base = buf.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else { throw .io(what: "cannot create work directory under", path: base, errno: errno) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(path, 0o700)
        ActiveWorkDirectories.register(path)
        let owner = Self.processStartTime(getpid()).map { "\(getpid()) \($0)\n" } ?? "\(getpid())\n"
        // Best effort: without it the directory is never swept, only leaked.
        _ = FileManager.default.createFile(
            atPath: path + "/" + Self.ownerFileName, contents: Data(owner.utf8), attributes: [.posixPermissions: 0o600])
    }

    /// Removes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
        ActiveWorkDirectories.unregister(path)
    }

    /// Removes work directories under `parent` whose owner process is gone
    /// (a harness killed with `kill -9` cannot clean up after itself; its
    /// QEMU died with it, its images did not). The owner is a pid plus its
    /// start time, so a recycled pid does not keep a stale directory alive.
    /// Directories without an owner file are left alone: they may belong to
    /// an older harness still running. Returns the removed paths.
    @discardableResult
    public static func removeStale(in parent: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        var removed: [String] = []
        for name in names where name.hasPrefix(namePrefix) {
            let dir = parent + "/" + name
            guard let text = try? String(contentsOfFile: dir + "/" + ownerFileName, encoding: .utf8) else { continue }
            let fields = text.split(whereSeparator: \.isWhitespace)
            guard let first = fields.first, let pid = pid_t(first) else { continue }
            let recorded = fields.dropFirst().first.flatMap { UInt64($0) }
            let alive = processStartTime(pid).map { start in recorded.map { $0 == start } ?? true } ?? false
            if alive { continue }
            if (try? FileManager.default.removeItem(atPath: dir)) != nil { removed.append(dir) }
        }
        return removed
    }

    /// Field 22 of /proc/PID/stat (clock ticks after boot), nil when no such process.
    static func processStartTime(_ pid: pid_t) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)" come fields 3, 4, ...: starttime is the 20th of them.
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        return rest.count > 19 ? UInt64(rest[19]) : nil
    }
}
