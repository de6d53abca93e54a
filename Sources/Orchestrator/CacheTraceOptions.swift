import Foundation

/// The QEMU arguments that make it log cache misses (`CacheTrace`), as a
/// value a QEMU command line appends. `-msg timestamp=on` is what puts
/// `PID@SECONDS.MICROS:` on each line; it also timestamps QEMU's error
/// messages on stderr, which a stderr parser must tolerate.
public struct CacheTraceOptions: Hashable, Sendable, ModeledCommand {
    /// Misses, miss reads and every lookup: enough for misses per lookup and
    /// miss read time.
    public static let allEvents: [CacheTraceEvent] = [.replaceEntry, .read, .done]

    public var logFile: String
    public var events: [CacheTraceEvent]

    public init(logFile: String, events: [CacheTraceEvent] = Self.allEvents) {
        self.logFile = logFile
        self.events = events
    }

    /// `-trace enable=EVENT`... `-D FILE -msg timestamp=on` (argv pieces, no program name).
    public var argv: [String] {
        events.flatMap { ["-trace", "enable=\($0.rawValue)"] } + ["-D", logFile, "-msg", "timestamp=on"]
    }
}

/// Reading a trace log file line by line, in bounded memory.
public enum CacheTraceFile {
    static let chunk = 1 << 16
    /// Longer lines are not cache events; they are skipped, not buffered.
    static let maxLine = 1 << 12

    public static func summarize(path: String, window: Range<UInt64>? = nil) throws(OrchestratorError) -> CacheTraceSummary {
        try summarize(path: path, from: 0, window: window, includeTornLine: true).summary
    }

    /// Counts the lines from byte `offset` on and returns where the next
    /// read should start: after the last complete line, so a line QEMU is
    /// still writing is read next time (unless `includeTornLine`, for a log
    /// that is finished). Memory stays bounded whatever the file size.
    public static func summarize(
        path: String, from offset: UInt64, window: Range<UInt64>? = nil, includeTornLine: Bool = false
    ) throws(OrchestratorError) -> (summary: CacheTraceSummary, next: UInt64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(what: "cannot open the QEMU trace log", path: path, errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: chunk)
        var counter = CacheTraceCounter(window: window)
        var carry: [UInt8] = []
        var skipping = false
        var position = offset
        var lineEnd = offset
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, chunk, off_t(position)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(what: "cannot read the QEMU trace log", path: path, errno: errno)
            }
            if n == 0 { break }
            buffer.withUnsafeBufferPointer { chunkBytes in
                guard let base = chunkBytes.baseAddress else { return }
                var lineStart = 0
                while lineStart < n {
                    guard let found = memchr(base + lineStart, 0x0A, n - lineStart) else {
                        // The rest is the start of a line the next chunk ends.
                        if !skipping {
                            carry.append(contentsOf: chunkBytes[lineStart..<n])
                            if carry.count > maxLine {
                                skipping = true
                                carry.removeAll(keepingCapacity: true)
                            }
                        }
                        break
                    }
                    let nl = UnsafeRawPointer(found) - UnsafeRawPointer(base)
                    // A line that began in an earlier chunk is completed in `carry`.
                    if !skipping, !carry.isEmpty { carry.append(contentsOf: chunkBytes[lineStart..<nl]) }
                    let length = carry.isEmpty ? nl - lineStart : carry.count
                    if skipping || length > maxLine {
                        // An over-long line counts as ignored, like any other non-event.
                        counter.ignore()
                    } else if carry.isEmpty {
                        counter.consume(bytes: UnsafeBufferPointer(rebasing: chunkBytes[lineStart..<nl]))
                    } else {
                        carry.withUnsafeBufferPointer { counter.consume(bytes: $0) }
                    }
                    carry.removeAll(keepingCapacity: true)
                    skipping = false
                    lineEnd = position + UInt64(nl) + 1
                    lineStart = nl + 1
                }
            }
            position += UInt64(n)
        }
        // A torn last line (QEMU still writing) is parsed if complete enough.
        if includeTornLine, !carry.isEmpty, !skipping {
            carry.withUnsafeBufferPointer { counter.consume(bytes: $0) }
            lineEnd = position
        }
        return (counter.result, lineEnd)
    }
}
