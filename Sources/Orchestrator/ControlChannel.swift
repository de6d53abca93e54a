import Foundation

/// The host end of a shared guest's slot protocol: a line-oriented client of
/// the Unix socket QEMU serves for the guest's `/dev/ttyS1`. Reads are
/// bounded by a deadline; nothing blocks without one.
final class ControlChannel {
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// At most this many bytes of one line are kept (a result line is ~1 KB).
    static let maxLine = 1 << 20

    /// Connects to `path`, retrying until `deadline` while QEMU creates it.
    init(path: String, until deadline: ContinuousClock.Instant) async throws(OrchestratorError) {
        var lastErrno: Int32 = 0
        while true {
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { throw .io(what: "cannot create socket for", path: path, errno: errno) }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                close(s)
                throw .io(what: "socket path too long", path: path, errno: ENAMETOOLONG)
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if rc == 0 {
                fd = s
                return
            }
            lastErrno = errno
            close(s)
            if ContinuousClock.now >= deadline { throw .io(what: "cannot connect to the guest control socket", path: path, errno: lastErrno) }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    deinit { close(fd) }

    func send(_ line: String) throws(OrchestratorError) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(what: "cannot write to the guest control socket", path: "", errno: errno)
            }
            off += n
        }
    }

    /// The next line, or nil when the deadline passes or the guest hangs up
    /// (`closed` tells which). Polls in short steps so task cancellation is
    /// seen within `step`.
    func readLine(until deadline: ContinuousClock.Instant, step: Duration = .milliseconds(50)) -> (line: String?, closed: Bool) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<nl].filter { $0 != 0x0D }, as: UTF8.self)
                buffer.removeSubrange(...nl)
                return (line, false)
            }
            if Task.isCancelled || ContinuousClock.now >= deadline { return (nil, false) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(step.components.seconds * 1000 + step.components.attoseconds / 1_000_000_000_000_000)
            let r = poll(&p, 1, ms)
            if r < 0 && errno != EINTR { return (nil, true) }
            guard r > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard n > 0 else { return (nil, true) }
            buffer += chunk[0..<n]
            if buffer.count > Self.maxLine, buffer.firstIndex(of: 0x0A) == nil { buffer.removeAll() }
        }
    }
}
