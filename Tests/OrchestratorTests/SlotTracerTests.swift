import BenchSpec
import Foundation
import Testing

@testable import Orchestrator

@Suite("Slot tracer")
struct SlotTracerTests {
    @Test func argvAddsTraceLogAndQMPSocketAtTheEnd() {
        let tracer = SlotTracer(workDirectory: "/w", name: "guest3")
        #expect(
            tracer.argv == [
                "-trace", "enable=qcow2_cache_get_replace_entry", "-trace", "enable=qcow2_cache_get_read", "-trace",
                "enable=qcow2_cache_get_done", "-D", "/w/guest3.trace.0", "-msg", "timestamp=on",
                "-qmp", "unix:/w/guest3.qmp,server=on,wait=off",
            ])
        var command = QemuCommand(
            accel: .tcg, kernel: "k", initrd: "i", kernelParameters: [], disks: [.null(size: .gib(1))], consolePath: "/w/c",
            controlSocket: "/w/s")
        let plain = command.argv
        command.extraArguments = tracer.argv
        #expect(command.argv == plain + tracer.argv)
    }

    @Test func offsetReadsCountOnlyNewCompleteLines() throws {
        let path = NSTemporaryDirectory() + "/slot-tracer-\(getpid()).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let miss = "7@1000.000100:qcow2_cache_get_replace_entry co 0x1 is_l2_cache 1 index 0\n"
        let done = "7@1000.000200:qcow2_cache_get_done co 0x1 is_l2_cache 1 index 0\n"
        let torn = "7@1000.000300:qcow2_cache_get_done co 0x1 is_l2_cache 1"
        try (miss + done + torn).write(toFile: path, atomically: false, encoding: .utf8)
        let (first, next) = try CacheTraceFile.summarize(path: path, from: 0)
        #expect(first.l2Misses == 1 && first.l2Lookups == 1)
        #expect(next == UInt64((miss + done).utf8.count), "the torn line is left for the next read")
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(" index 0\n".utf8) + Data(done.utf8))
        try handle.close()
        let (second, end) = try CacheTraceFile.summarize(path: path, from: next, window: 1_000_000_250..<1_000_001_000)
        #expect(second.l2Lookups == 1, "the completed torn line is in the window, the repeated one at .000200 is not")
        #expect(second.l2Misses == 0)
        #expect(end == UInt64(try Data(contentsOf: URL(fileURLWithPath: path)).count))
    }

    @Test func traceKeyParses() throws {
        let m = try Matrix.parse(toml: "name = \"t\"\n[workload]\ntrace = \"off\"\n", source: "t.toml")
        #expect(m.pairing.trace == .off)
        #expect(throws: (any Error).self) { try Matrix.parse(toml: "name = \"t\"\n[workload]\ntrace = \"some\"\n", source: "t.toml") }
    }
}
