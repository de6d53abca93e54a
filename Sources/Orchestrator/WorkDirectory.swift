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

    /// Creates `$TMPDIR/qcow2-cache-bench.XXXXXX` (or under `parent`).
    public init(parent: String? = nil) throws(OrchestratorError) {
        let base = parent ?? Self.defaultParent
        var template = Array("\(base)/qcow2-cache-bench.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buf -> Bool in
            guard let base = buf.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else { throw .io(what: "cannot create work directory under", path: base, errno: errno) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(path, 0o700)
        ActiveWorkDirectories.register(path)
    }

    /// Removes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
        ActiveWorkDirectories.unregister(path)
    }

    /// Removes one file inside the directory (an image between runs).
    public func removeFile(_ name: String) {
        try? FileManager.default.removeItem(atPath: path + "/" + name)
    }
}
