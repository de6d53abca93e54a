import Foundation
import GuestWire

#if canImport(Glibc)
    import Glibc
#endif

/// Why a QMP exchange failed. `command` is QEMU's own answer (the command
/// ran and was refused); the others are transport or protocol failures.
public enum QMPError: Error, Equatable, Sendable, CustomStringConvertible {
    case socketPathTooLong(path: String, limit: Int)
    case connectFailed(path: String, errno: Int32)
    case timedOut(what: String, seconds: Double)
    case closed(what: String)
    case io(what: String, errno: Int32)
    case protocolError(String)
    case cancelled
    /// QEMU's `{"error": {"class": …, "desc": …}}` for `command`.
    case command(name: String, errorClass: String, desc: String)

    public var description: String {
        switch self {
        case .socketPathTooLong(let p, let limit):
            return "QMP socket path is \(p.utf8.count) bytes, longer than the \(limit) a unix socket allows: \(p); use a shorter temporary directory"
        case .connectFailed(let p, let e):
            return "cannot connect to QMP socket \(p): \(errnoText(e)); is QEMU running with -qmp unix:\(p),server=on,wait=off?"
        case .timedOut(let what, let s):
            return "QMP: no answer to \(what) within \(s) s; QEMU may be stuck or gone"
        case .closed(let what):
            return "QMP: QEMU closed the connection while waiting for \(what) (it exited?)"
        case .io(let what, let e):
            return "QMP: \(what) failed: \(errnoText(e))"
        case .protocolError(let why):
            return "QMP: unexpected message: \(why)"
        case .cancelled:
            return "QMP: cancelled"
        case .command(let name, let cls, let desc):
            return "QMP command \(name) failed: \(cls): \(desc)"
        }
    }
}

/// A QMP connection over a unix socket. `connect` reads the greeting and
/// negotiates capabilities; `execute` sends one command and returns its
/// `return` value, storing asynchronous events met on the way. Reads are
/// non-blocking and polled, so a stuck QEMU costs a timeout, not a thread,
/// and every message is bounded in size.
///
/// JSON goes through Foundation's `JSONDecoder`/`JSONEncoder` into the
/// project's `JSONValue`; numbers are `Double`, exact up to 2^53.
public actor QMPClient {
    /// Longest message accepted (query-blockstats of many nodes is far below).
    public static let maxMessageBytes = 4 << 20
    /// Events kept for `takeEvents()`; older ones are dropped.
    public static let maxStoredEvents = 1024

    /// The greeting's `QMP` member: `version`, `capabilities`.
    public nonisolated let greeting: JSONValue
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var events: [JSONValue] = []
    private var nextID = 1
    private var outstanding: Set<Int> = []
    private var stashedReplies: [Int: JSONValue] = [:]

    private init(fd: Int32, greeting: JSONValue, buffer: [UInt8] = []) {
        self.fd = fd
        self.greeting = greeting
        self.buffer = buffer
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Connects (retrying until QEMU has created the socket), reads the
    /// greeting and sends `qmp_capabilities`.
    public static func connect(path: String, timeout: Duration = .seconds(10)) async throws(QMPError) -> QMPClient {
        let deadline = ContinuousClock.now + timeout
        let fd = try await openSocket(path: path, deadline: deadline, timeout: timeout)
        let reader = QMPClient(fd: fd, greeting: .null)
        let first = try await reader.readMessage(what: "the QMP greeting", deadline: deadline, timeout: timeout)
        guard let qmp = first["QMP"] else {
            throw .protocolError("expected the greeting {\"QMP\": …}, got \(first.qmpText)")
        }
        let (handed, rest) = await reader.release()
        let client = QMPClient(fd: handed, greeting: qmp, buffer: rest)
        _ = try await client.execute("qmp_capabilities", timeout: timeout)
        return client
    }

    /// Hands the descriptor and any bytes read past the greeting over to
    /// the instance that carries the greeting (`greeting` is immutable).
    private func release() -> (fd: Int32, buffer: [UInt8]) {
        defer {
            fd = -1
            buffer = []
        }
        return (fd, buffer)
    }

    /// Runs `command` and returns its `return` value; QEMU's refusal is
    /// `QMPError.command` with its class and description.
    public func execute(_ command: String, arguments: JSONValue? = nil, timeout: Duration = .seconds(30)) async throws(QMPError) -> JSONValue {
        guard fd >= 0 else { throw .closed(what: "a reply to \(command) (connection closed)") }
        let deadline = ContinuousClock.now + timeout
        let id = nextID
        nextID += 1
        var message: [String: JSONValue] = ["execute": .string(command), "id": .number(Double(id))]
        if let arguments { message["arguments"] = arguments }
        try await send(JSONValue.object(message).qmpText + "\n", deadline: deadline, timeout: timeout, what: command)
        outstanding.insert(id)
        defer {
            outstanding.remove(id)
            stashedReplies.removeValue(forKey: id)
        }
        while true {
            let reply = try await readMessage(what: "a reply to \(command)", replyTo: id, deadline: deadline, timeout: timeout)
            if reply["event"] != nil {
                store(reply)
                continue
            }
            // Concurrent commands on one connection: each takes its own reply.
            if let other = reply["id"]?.double.map({ Int($0) }), other != id, outstanding.contains(other) {
                stashedReplies[other] = reply
                continue
            }
            guard reply["id"]?.double == Double(id) else {
                throw .protocolError("reply to \(command) has id \(reply["id"]?.qmpText ?? "none"), expected \(id): \(reply.qmpText)")
            }
            if let value = reply["return"] { return value }
            if let error = reply["error"] {
                throw .command(
                    name: command, errorClass: error["class"]?.string ?? "(no class)", desc: error["desc"]?.string ?? "(no description)")
            }
            throw .protocolError("reply to \(command) has neither return nor error: \(reply.qmpText)")
        }
    }

    /// Events received so far (oldest first), removed from the client.
    public func takeEvents() -> [JSONValue] {
        defer { events.removeAll() }
        return events
    }

    /// Closes the socket; later commands fail with `.closed`.
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    private func store(_ event: JSONValue) {
        events.append(event)
        if events.count > Self.maxStoredEvents { events.removeFirst(events.count - Self.maxStoredEvents) }
    }

    // MARK: transport

    private static func openSocket(path: String, deadline: ContinuousClock.Instant, timeout: Duration) async throws(QMPError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let limit = MemoryLayout.size(ofValue: address.sun_path) - 1
        let bytes = Array(path.utf8)
        guard bytes.count <= limit, !bytes.isEmpty else { throw .socketPathTooLong(path: path, limit: limit) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        var delay = Duration.milliseconds(2)
        while true {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw .io(what: "socket()", errno: errno) }
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if rc == 0 {
                let flags = fcntl(fd, F_GETFL)
                guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
                    let e = errno
                    Glibc.close(fd)
                    throw .io(what: "fcntl(O_NONBLOCK)", errno: e)
                }
                return fd
            }
            let e = errno
            Glibc.close(fd)
            // Not there yet (QEMU starting) is retried; anything else is final.
            guard [ENOENT, ECONNREFUSED, EAGAIN, EINTR].contains(e) else { throw .connectFailed(path: path, errno: e) }
            guard ContinuousClock.now < deadline else { throw .connectFailed(path: path, errno: e) }
            do { try await Task.sleep(for: delay) } catch { throw .cancelled }
            delay = min(delay * 2, .milliseconds(50))
        }
    }

    private func send(_ text: String, deadline: ContinuousClock.Instant, timeout: Duration, what: String) async throws(QMPError) {
        var bytes = Array(text.utf8)[...]
        var delay = Duration.microseconds(100)
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                bytes = bytes.dropFirst(n)
                continue
            }
            let e = errno
            guard n < 0, e == EAGAIN || e == EWOULDBLOCK || e == EINTR else {
                throw n == 0 || e == EPIPE || e == ECONNRESET ? .closed(what: "sending \(what)") : .io(what: "sending \(what)", errno: e)
            }
            try await pause(&delay, deadline: deadline, timeout: timeout, what: "sending \(what)")
        }
    }

    /// The next complete message (one JSON object per line).
    /// With `replyTo`, a reply another task read and stashed for that id
    /// (concurrent commands) ends the wait too.
    private func readMessage(
        what: String, replyTo id: Int? = nil, deadline: ContinuousClock.Instant, timeout: Duration
    ) async throws(QMPError) -> JSONValue {
        var delay = Duration.microseconds(100)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            if let id, let stashed = stashedReplies.removeValue(forKey: id) { return stashed }
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
                return try Self.decode(line)
            }
            guard buffer.count <= Self.maxMessageBytes else {
                throw .protocolError("a message longer than \(Self.maxMessageBytes) bytes")
            }
            guard fd >= 0 else { throw .closed(what: what) }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                delay = .microseconds(100)
                continue
            }
            if n == 0 { throw .closed(what: what) }
            let e = errno
            guard e == EAGAIN || e == EWOULDBLOCK || e == EINTR else {
                throw e == ECONNRESET ? .closed(what: what) : .io(what: "reading \(what)", errno: e)
            }
            try await pause(&delay, deadline: deadline, timeout: timeout, what: what)
        }
    }

    /// Waits a little (doubling up to 5 ms) before polling again, or fails
    /// at the deadline.
    private func pause(_ delay: inout Duration, deadline: ContinuousClock.Instant, timeout: Duration, what: String) async throws(QMPError) {
        guard ContinuousClock.now < deadline else {
            let c = timeout.components
            throw .timedOut(what: what, seconds: Double(c.seconds) + Double(c.attoseconds) / 1e18)
        }
        do { try await Task.sleep(for: delay) } catch { throw .cancelled }
        delay = min(delay * 2, .milliseconds(5))
    }

    static func decode(_ line: [UInt8]) throws(QMPError) -> JSONValue {
        do {
            return try JSONDecoder().decode(CodableJSON.self, from: Data(line)).value
        } catch {
            throw .protocolError("not JSON: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
    }
}

/// Codable bridge for `JSONValue` (which the static guest keeps free of Foundation).
struct CodableJSON: Codable {
    var value: JSONValue
    init(_ value: JSONValue) { self.value = value }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            value = .null
        } else if let b = try? c.decode(Bool.self) {
            value = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            value = .number(d)
        } else if let s = try? c.decode(String.self) {
            value = .string(s)
        } else if let a = try? c.decode([CodableJSON].self) {
            value = .array(a.map(\.value))
        } else {
            value = .object(try c.decode([String: CodableJSON].self).mapValues(\.value))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch value {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d):
            // Whole numbers as integers: QMP's int arguments refuse 1.0.
            if d == d.rounded(), abs(d) < 9.2e18 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a.map(CodableJSON.init))
        case .object(let o): try c.encode(o.mapValues(CodableJSON.init))
        }
    }
}

extension JSONValue {
    /// Compact JSON text (sorted keys), as sent to QEMU.
    public var qmpText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(CodableJSON(self)) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
