/// QEMU's qcow2 cache trace events: QEMU exposes no cache counters over QMP
/// (DESIGN §2b), but these three events count every lookup and miss and
/// time each miss's read. Parsing is pure (no I/O) and streaming: a
/// `CacheTraceCounter` takes one line at a time and keeps bounded state,
/// because a 5 s run writes ~90k lines.
///
/// Line format of QEMU's `log` trace backend with `-msg timestamp=on`
/// (Debian 7.2), checked against real output:
///
///     7442@1796019261.804159:qcow2_cache_get_replace_entry co 0x555a01eb0010 is_l2_cache 1 index 0
///     7442@1796019261.804202:qcow2_cache_get_read co 0x555a01eb0010 is_l2_cache 1 index 0
///     7442@1796019261.811656:qcow2_cache_get_done co 0x555a01eb0010 is_l2_cache 1 index 0
///
/// `PID@SECONDS.MICROS` is the host's wall clock (gettimeofday). Without
/// `-msg timestamp=on` (and in `qemu-io -T`) the prefix is absent.
public enum CacheTraceEvent: String, Hashable, Sendable, CaseIterable, Codable {
    /// A miss: an entry is evicted to make room (fires once per miss).
    case replaceEntry = "qcow2_cache_get_replace_entry"
    /// The miss's read from the image file starts.
    case read = "qcow2_cache_get_read"
    /// Any lookup ends, hit or miss.
    case done = "qcow2_cache_get_done"
}

/// One parsed trace line.
public struct CacheTraceLine: Hashable, Sendable {
    public var pid: Int?
    /// Trace clock in microseconds since the epoch; nil without `-msg timestamp=on`.
    public var micros: UInt64?
    public var event: CacheTraceEvent
    /// The coroutine's address: pairs a miss's `read` with its `done`.
    public var coroutine: UInt64
    public var isL2: Bool
    public var index: Int

    public init(pid: Int?, micros: UInt64?, event: CacheTraceEvent, coroutine: UInt64, isL2: Bool, index: Int) {
        self.pid = pid
        self.micros = micros
        self.event = event
        self.coroutine = coroutine
        self.isL2 = isL2
        self.index = index
    }

    /// Nil for anything that is not one of the three events (other log
    /// output shares the file), or is malformed.
    public init?(parsing line: Substring) {
        var text = line
        guard let parsed = text.withUTF8({ CacheTraceLine(bytes: $0) }) else { return nil }
        self = parsed
    }

    /// The same parse over a line's bytes (no newline). A traced slot logs
    /// ~70k lines that are read between two slots, so this works on bytes
    /// with no String, Substring or array per line: 5.4 MB (68k lines)
    /// took 284 ms through `split`, even with this module at `-O`, and was
    /// the largest part of the gap after a traced window; now 9-15 ms.
    public init?(bytes line: UnsafeBufferPointer<UInt8>) {
        var cursor = TraceLineCursor(line)
        // "PID@SEC.USEC:" when the line has a ':' with an '@' before it.
        if let colon = cursor.index(of: UInt8(ascii: ":")), cursor.index(of: UInt8(ascii: "@"), before: colon) != nil {
            guard let pid = cursor.decimal(until: UInt8(ascii: "@")), let sec = cursor.decimal(until: UInt8(ascii: ".")),
                let usec = cursor.decimal(until: UInt8(ascii: ":")), usec < 1_000_000, cursor.position == colon + 1
            else { return nil }
            self.pid = Int(pid)
            self.micros = sec * 1_000_000 + usec
        } else {
            self.pid = nil
            self.micros = nil
        }
        guard let name = cursor.field(), let event = CacheTraceEvent(bytes: name, in: line),
            cursor.fieldEquals("co"), let hex = cursor.field(), hex.count > 2,
            line[hex.lowerBound] == UInt8(ascii: "0"), line[hex.lowerBound + 1] == UInt8(ascii: "x"),
            let co = TraceLineCursor.number(line, hex.dropFirst(2), radix: 16),
            cursor.fieldEquals("is_l2_cache"), let flag = cursor.field(), flag.count == 1,
            line[flag.lowerBound] == UInt8(ascii: "0") || line[flag.lowerBound] == UInt8(ascii: "1"),
            cursor.fieldEquals("index"), let indexField = cursor.field(),
            let index = TraceLineCursor.number(line, indexField, radix: 10), cursor.field() == nil
        else { return nil }
        self.event = event
        self.coroutine = co
        self.isL2 = line[flag.lowerBound] == UInt8(ascii: "1")
        self.index = Int(index)
    }
}

extension CacheTraceEvent {
    private static let utf8: [(CacheTraceEvent, [UInt8])] = allCases.map { ($0, Array($0.rawValue.utf8)) }

    /// The event whose name is exactly `line[range]`.
    init?(bytes range: Range<Int>, in line: UnsafeBufferPointer<UInt8>) {
        for (event, name) in Self.utf8 where name.count == range.count {
            if name.indices.allSatisfy({ name[$0] == line[range.lowerBound + $0] }) {
                self = event
                return
            }
        }
        return nil
    }
}

/// A forward cursor over one trace line's bytes: space-separated fields
/// and unsigned numbers, with no allocation.
struct TraceLineCursor {
    let line: UnsafeBufferPointer<UInt8>
    var position = 0

    init(_ line: UnsafeBufferPointer<UInt8>) { self.line = line }

    func index(of byte: UInt8, before end: Int? = nil) -> Int? {
        var i = position
        let stop = end ?? line.count
        while i < stop {
            if line[i] == byte { return i }
            i += 1
        }
        return nil
    }

    /// Decimal digits up to `terminator`, which is consumed; nil when empty,
    /// not digits, or over 18 digits.
    mutating func decimal(until terminator: UInt8) -> UInt64? {
        let start = position
        while position < line.count, line[position] != terminator { position += 1 }
        guard position < line.count, let value = Self.number(line, start..<position, radix: 10) else { return nil }
        position += 1
        return value
    }

    /// The next run of non-space bytes, or nil at the end of the line.
    mutating func field() -> Range<Int>? {
        while position < line.count, line[position] == UInt8(ascii: " ") { position += 1 }
        guard position < line.count else { return nil }
        let start = position
        while position < line.count, line[position] != UInt8(ascii: " ") { position += 1 }
        return start..<position
    }

    mutating func fieldEquals(_ word: StaticString) -> Bool {
        guard let f = field(), f.count == word.utf8CodeUnitCount else { return false }
        let p = word.utf8Start
        for k in 0..<f.count where line[f.lowerBound + k] != p[k] { return false }
        return true
    }

    /// An unsigned number in `range` (1-18 decimal or 1-16 hex digits).
    static func number(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, radix: UInt64) -> UInt64? {
        guard !range.isEmpty, range.count <= (radix == 16 ? 16 : 18) else { return nil }
        var value: UInt64 = 0
        for i in range {
            let b = line[i]
            let digit: UInt64
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt64(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt64(b - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value * radix + digit
        }
        return value
    }
}

/// Counts over a trace, or over a window of it.
public struct CacheTraceSummary: Hashable, Sendable, Codable {
    public var l2Lookups: UInt64 = 0
    public var l2Misses: UInt64 = 0
    public var refcountLookups: UInt64 = 0
    public var refcountMisses: UInt64 = 0
    /// Misses whose read was timed (`read` -> `done` on one coroutine).
    public var timedReads: UInt64 = 0
    public var missReadMeanMicros: Double?
    /// Exact below 1024 µs, within 1/32 above (histogram bucket lower bound).
    public var missReadP50Micros: Double?
    public var missReadP99Micros: Double?
    /// Trace-clock span of the counted events, microseconds since the epoch.
    public var firstMicros: UInt64?
    public var lastMicros: UInt64?
    /// Lines that were not cache events (or fell outside the window).
    public var ignoredLines: UInt64 = 0

    public init() {}

    public var lookups: UInt64 { l2Lookups + refcountLookups }

    /// L2 misses per L2 lookup: about `1 - coverage` for uniform random I/O.
    public var l2MissRatio: Double? { l2Lookups == 0 ? nil : Double(l2Misses) / Double(l2Lookups) }
}

/// Streaming accumulator over trace lines. Memory is bounded: pending reads
/// are keyed by coroutine (capped at `maxPending`, oldest dropped) and read
/// times go into a fixed histogram.
public struct CacheTraceCounter: Sendable {
    /// Only events with a timestamp in this range (trace clock, µs since the
    /// epoch) count, so a host can split one trace by slot boundaries.
    public let window: Range<UInt64>?
    public static let maxPending = 4096

    private var summary = CacheTraceSummary()
    private var pending: [UInt64: UInt64] = [:]  // coroutine -> read start µs
    private var histogram = LatencyHistogram()
    private var readSum: Double = 0

    public init(window: Range<UInt64>? = nil) { self.window = window }

    /// Window given in seconds of the trace clock (`Date().timeIntervalSince1970` on the host).
    public init(windowSeconds: Range<Double>) {
        let lo = UInt64(max(0, windowSeconds.lowerBound * 1e6).rounded())
        let hi = UInt64(max(0, windowSeconds.upperBound * 1e6).rounded())
        self.init(window: lo..<max(lo, hi))
    }

    public mutating func consume(line: Substring) {
        var text = line
        text.withUTF8 { consume(bytes: $0) }
    }

    /// One line's bytes (no newline): the file reader's path.
    public mutating func consume(bytes: UnsafeBufferPointer<UInt8>) {
        guard let parsed = CacheTraceLine(bytes: bytes) else { return ignore() }
        consume(parsed)
    }

    /// A line that is not read at all (over the length cap).
    mutating func ignore() { summary.ignoredLines += 1 }

    public mutating func consume(_ line: CacheTraceLine) {
        // A read that started in the window is timed even if it ends after it.
        if line.event == .done, let start = pending.removeValue(forKey: line.coroutine) {
            if let end = line.micros, end >= start {
                histogram.add(end - start)
                readSum += Double(end - start)
                summary.timedReads += 1
            }
        }
        if let window {
            guard let t = line.micros, window.contains(t) else {
                summary.ignoredLines += 1
                return
            }
        }
        if let t = line.micros {
            summary.firstMicros = min(summary.firstMicros ?? t, t)
            summary.lastMicros = max(summary.lastMicros ?? t, t)
        }
        switch (line.event, line.isL2) {
        case (.replaceEntry, true): summary.l2Misses += 1
        case (.replaceEntry, false): summary.refcountMisses += 1
        case (.done, true): summary.l2Lookups += 1
        case (.done, false): summary.refcountLookups += 1
        case (.read, _):
            if let t = line.micros {
                if pending.count >= Self.maxPending, let oldest = pending.min(by: { $0.value < $1.value }) {
                    pending.removeValue(forKey: oldest.key)
                }
                pending[line.coroutine] = t
            }
        }
    }

    public var result: CacheTraceSummary {
        var s = summary
        if s.timedReads > 0 {
            s.missReadMeanMicros = readSum / Double(s.timedReads)
            s.missReadP50Micros = histogram.percentile(50)
            s.missReadP99Micros = histogram.percentile(99)
        }
        return s
    }

    /// Convenience for text already in memory (tests, short traces).
    public static func summarize<S: Sequence>(lines: S, window: Range<UInt64>? = nil) -> CacheTraceSummary
    where S.Element: StringProtocol {
        var c = CacheTraceCounter(window: window)
        for l in lines { c.consume(line: Substring(l)) }
        return c.result
    }
}

/// Microsecond histogram: 1 µs buckets below 1024, then 32 buckets per
/// power of two; a few KiB whatever the number of samples.
struct LatencyHistogram: Sendable {
    static let linear: UInt64 = 1024
    static let sub = 32
    private var counts = [UInt64](repeating: 0, count: Int(linear) + 54 * sub)
    private var total: UInt64 = 0

    static func bucket(_ v: UInt64) -> Int {
        if v < linear { return Int(v) }
        let p = 63 - v.leadingZeroBitCount  // >= 10
        let frac = Int((v >> UInt64(p - 5)) & 31)
        return Int(linear) + (p - 10) * sub + frac
    }

    static func lowerBound(_ b: Int) -> UInt64 {
        if b < Int(linear) { return UInt64(b) }
        let p = (b - Int(linear)) / sub + 10
        let frac = UInt64((b - Int(linear)) % sub)
        return (1 << UInt64(p)) + frac << UInt64(p - 5)
    }

    mutating func add(_ v: UInt64) {
        counts[min(Self.bucket(v), counts.count - 1)] += 1
        total += 1
    }

    func percentile(_ p: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = max(1, UInt64((p / 100 * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for (b, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank { return Double(Self.lowerBound(b)) }
        }
        return nil
    }
}
