import Foundation
import Testing

@testable import Orchestrator

/// Lines as Debian's QEMU 7.2 wrote them (`-msg timestamp=on`, log backend).
let observedTrace = """
    7442@1796019261.804159:qcow2_cache_get_replace_entry co 0x555a01eb0010 is_l2_cache 1 index 0
    7442@1796019261.804202:qcow2_cache_get_read co 0x555a01eb0010 is_l2_cache 1 index 0
    7442@1796019261.811656:qcow2_cache_get_done co 0x555a01eb0010 is_l2_cache 1 index 0
    7442@1796019261.812003:qcow2_cache_get_replace_entry co 0x555a01eb0590 is_l2_cache 1 index 1
    7442@1796019261.812007:qcow2_cache_get_read co 0x555a01eb0590 is_l2_cache 1 index 1
    7442@1796019261.812037:qcow2_cache_get_done co 0x555a01eb0590 is_l2_cache 1 index 1
    7442@1796019261.812230:qcow2_cache_get_done co 0x555a01c4f340 is_l2_cache 1 index 0
    """

@Suite struct CacheTraceTests {
    @Test func parsesTimestampedLine() throws {
        let l = try #require(
            CacheTraceLine(parsing: "7442@1796019261.804159:qcow2_cache_get_replace_entry co 0x555a01eb0010 is_l2_cache 1 index 12"))
        #expect(
            l == CacheTraceLine(pid: 7442, micros: 1_796_019_261_804_159, event: .replaceEntry, coroutine: 0x555a_01eb_0010, isL2: true, index: 12))
    }

    @Test func parsesUntimestampedLineAsQemuIoWritesIt() throws {
        let l = try #require(CacheTraceLine(parsing: "qcow2_cache_get_done co 0x559703c2c360 is_l2_cache 0 index 3"))
        #expect(l.micros == nil && l.pid == nil && l.event == .done && !l.isL2 && l.index == 3)
    }

    @Test(arguments: [
        "", "qcow2_cache_get co 0x1 is_l2_cache 1 index 0", "7442@1.2:qcow2_cache_get_done co 0xZZ is_l2_cache 1 index 0",
        "qcow2_cache_get_done co 0x1 is_l2_cache 2 index 0", "qcow2_cache_get_done co 0x1 is_l2_cache 1 index",
        "x@1.5:qcow2_cache_get_done co 0x1 is_l2_cache 1 index 0", "qemu-system-x86_64: warning: something",
        "7442@1.1000000:qcow2_cache_get_done co 0x1 is_l2_cache 1 index 0",
        "qcow2_cache_get_done co 0x1 is_l2_cache 1 index 0 extra", "qcow2_cache_get_done co 0x is_l2_cache 1 index 0",
        "qcow2_cache_get_done co 0x1 is_l2_cache 1 index -1", "qcow2_cache_get_donex co 0x1 is_l2_cache 1 index 0",
        "7442@1796019261:qcow2_cache_get_done co 0x1 is_l2_cache 1 index 0", "7442@.5:qcow2_cache_get_done co 0x1 is_l2_cache 1 index 0",
    ])
    func rejectsOtherLines(_ text: String) {
        #expect(CacheTraceLine(parsing: Substring(text)) == nil)
    }

    @Test func bytesAndTextParseAlike() throws {
        // Spacing QEMU does not write but the field split always allowed, and hex in either case.
        let line = "7442@1796019261.000007:qcow2_cache_get_read  co 0x55AbCd is_l2_cache 0 index 4095 "
        let l = try #require(CacheTraceLine(parsing: Substring(line)))
        #expect(l == CacheTraceLine(pid: 7442, micros: 1_796_019_261_000_007, event: .read, coroutine: 0x55_abcd, isL2: false, index: 4095))
        let fromBytes = Array(line.utf8).withUnsafeBufferPointer { CacheTraceLine(bytes: $0) }
        #expect(fromBytes == l)
    }

    @Test func countsMissesLookupsAndReadTimes() {
        let s = CacheTraceCounter.summarize(lines: observedTrace.split(separator: "\n"))
        #expect(s.l2Misses == 2)
        #expect(s.l2Lookups == 3)
        #expect(s.refcountMisses == 0 && s.refcountLookups == 0)
        #expect(s.timedReads == 2)
        // 7454 µs and 30 µs.
        #expect(s.missReadMeanMicros == 3742)
        #expect(s.missReadP50Micros == 30)
        #expect(s.missReadP99Micros.map { $0 <= 7454 && $0 > 7454 * 31 / 32 } == true)
        #expect(s.firstMicros == 1_796_019_261_804_159 && s.lastMicros == 1_796_019_261_812_230)
    }

    @Test func windowSplitsByTraceClock() {
        let t0: UInt64 = 1_796_019_261_812_000
        let s = CacheTraceCounter.summarize(lines: observedTrace.split(separator: "\n"), window: t0..<(t0 + 1000))
        #expect(s.l2Misses == 1 && s.l2Lookups == 2 && s.timedReads == 1 && s.missReadMeanMicros == 30)
        #expect(s.ignoredLines == 3)
    }

    @Test func refcountEventsCountSeparately() {
        let s = CacheTraceCounter.summarize(lines: [
            "1@1.000000:qcow2_cache_get_replace_entry co 0x1 is_l2_cache 0 index 0",
            "1@1.000000:qcow2_cache_get_done co 0x1 is_l2_cache 0 index 0",
        ])
        #expect(s.refcountMisses == 1 && s.refcountLookups == 1 && s.l2Misses == 0 && s.lookups == 1)
    }

    @Test func histogramBuckets() {
        for v: UInt64 in [0, 1, 1023, 1024, 1500, 65_537, 1 << 40] {
            let b = LatencyHistogram.bucket(v)
            let lo = LatencyHistogram.lowerBound(b)
            #expect(lo <= v && v - lo <= max(0, v / 32), "\(v) -> \(lo)")
        }
    }

    @Test func streamsAFileInBoundedChunks() throws {
        let path = NSTemporaryDirectory() + "qcb-trace-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // 100k lines: more than one chunk, with a line far over the length cap.
        var text = String(repeating: "x", count: 10_000) + "\n"
        for i in 0..<50_000 {
            text += "9@2.\(String(format: "%06d", i % 1_000_000)):qcow2_cache_get_read co 0x\(String(i % 7, radix: 16)) is_l2_cache 1 index 0\n"
            text += "9@2.\(String(format: "%06d", i % 1_000_000 + 1)):qcow2_cache_get_done co 0x\(String(i % 7, radix: 16)) is_l2_cache 1 index 0\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let s = try CacheTraceFile.summarize(path: path)
        #expect(s.l2Lookups == 50_000 && s.timedReads == 50_000 && s.missReadP50Micros == 1 && s.ignoredLines == 1)
        #expect(throws: OrchestratorError.self) { try CacheTraceFile.summarize(path: path + ".missing") }
    }

    @Test func traceOptionsArgv() {
        #expect(
            CacheTraceOptions(logFile: "/tmp/run 1/trace.log").argv == [
                "-trace", "enable=qcow2_cache_get_replace_entry", "-trace", "enable=qcow2_cache_get_read",
                "-trace", "enable=qcow2_cache_get_done", "-D", "/tmp/run 1/trace.log", "-msg", "timestamp=on",
            ])
        #expect(
            CacheTraceOptions(logFile: "t", events: [.replaceEntry]).argv == [
                "-trace", "enable=qcow2_cache_get_replace_entry", "-D", "t", "-msg", "timestamp=on",
            ])
    }
}
