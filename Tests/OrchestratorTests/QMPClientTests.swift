import Foundation
import GuestWire
import Testing

@testable import Orchestrator

/// A QEMU with no guest and a QMP socket in a private directory; `stop()`
/// makes sure neither the process nor the directory survives the test.
final class QMPTestQemu: @unchecked Sendable {
    let dir: String
    let socket: String
    let process = Process()

    init(extraArgs: [String] = []) throws {
        dir = NSTemporaryDirectory() + "qcb-qmp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        socket = dir + "/qmp.sock"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-system-x86_64")
        process.arguments =
            [
                "-machine", "none", "-nodefaults", "-display", "none",
                "-qmp", "unix:\(socket),server=on,wait=off",
            ] + extraArgs
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Waits up to 5 s for QEMU to exit (after `quit`), then kills it.
    func stop() async -> Bool {
        var exited = false
        for _ in 0..<100 {
            if !process.isRunning { exited = true; break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
        return exited
    }
}

@Suite(.tags(.startsQEMU)) struct QMPClientTests {
    @Test func talksToARealQemu() async throws {
        let qemu = try QMPTestQemu()
        var quitCleanly = false
        do {
            let qmp = try await QMPClient.connect(path: qemu.socket)
            #expect(qmp.greeting["version"]?["qemu"]?["major"]?.double.map { $0 >= 7 } == true)

            let version = try await qmp.execute("query-version")
            #expect(version["qemu"]?["major"]?.double == qmp.greeting["version"]?["qemu"]?["major"]?.double)

            let event = JSONValue.string(CacheTraceEvent.replaceEntry.rawValue)
            func state() async throws -> String? {
                try await qmp.execute("trace-event-get-state", arguments: .object(["name": event]))[0]?["state"]?.string
            }
            #expect(try await state() == "disabled")
            _ = try await qmp.execute("trace-event-set-state", arguments: .object(["name": event, "enable": .bool(true)]))
            #expect(try await state() == "enabled")
            _ = try await qmp.execute("trace-event-set-state", arguments: .object(["name": event, "enable": .bool(false)]))
            #expect(try await state() == "disabled")

            await #expect {
                try await qmp.execute("no-such-command")
            } throws: { error in
                guard case .command(let name, let cls, let desc) = error as? QMPError else { return false }
                return name == "no-such-command" && cls == "CommandNotFound" && desc.contains("no-such-command")
            }
            // The connection still works after a refused command, and
            // concurrent commands each get their own reply.
            _ = try await qmp.execute("query-status")
            async let a = qmp.execute("query-version")
            async let b = qmp.execute("query-status")
            async let c = qmp.execute("query-name")
            let (va, vb, vc) = try await (a, b, c)
            #expect(va["qemu"] != nil && vb["running"] != nil && vc.object != nil)
            let many = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 { group.addTask { try await qmp.execute("query-version")["qemu"] != nil } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(many == 20)

            _ = try await qmp.execute("quit")
            await #expect(throws: QMPError.self) { try await qmp.execute("query-version", timeout: .seconds(2)) }
            quitCleanly = true
        } catch {
            Issue.record("\(error)")
        }
        let exited = await qemu.stop()
        #expect(quitCleanly && exited, "QEMU did not exit after quit")
        #expect(!FileManager.default.fileExists(atPath: qemu.dir))
    }

    /// A null-co node added at run time shows in `query-blockstats` with
    /// `query-nodes` (its counters stay zero: only a device's BlockBackend
    /// counts I/O, DESIGN §2b); a duplicate node name is QEMU's error.
    @Test func blockdevAddAndBlockstats() async throws {
        let qemu = try QMPTestQemu()
        do {
            let qmp = try await QMPClient.connect(path: qemu.socket)
            _ = try await qmp.execute(
                "blockdev-add", arguments: .object(["driver": .string("null-co"), "node-name": .string("null0"), "size": .number(Double(1 << 30))]))
            let stats = try await qmp.execute("query-blockstats", arguments: .object(["query-nodes": .bool(true)]))
            let names = stats.array?.compactMap { $0["node-name"]?.string } ?? []
            #expect(names.contains("null0"), "\(stats.qmpText)")
            #expect(stats.array?.first { $0["node-name"]?.string == "null0" }?["stats"]?["wr_operations"]?.double == 0)
            await #expect(throws: QMPError.self) {
                try await qmp.execute("blockdev-add", arguments: .object(["driver": .string("null-co"), "node-name": .string("null0")]))
            }
            _ = try await qmp.execute("quit")
        } catch {
            Issue.record("\(error)")
        }
        #expect(await qemu.stop())
    }

    @Test func connectTimesOutWithoutQemu() async {
        let path = NSTemporaryDirectory() + "qcb-none-\(UUID().uuidString.prefix(8)).sock"
        await #expect {
            try await QMPClient.connect(path: path, timeout: .milliseconds(200))
        } throws: { error in
            if case .connectFailed(_, let e) = error as? QMPError { return e == ENOENT }
            return false
        }
        await #expect(throws: QMPError.self) {
            try await QMPClient.connect(path: "/tmp/" + String(repeating: "x", count: 200))
        }
    }

    @Test func jsonRoundTrip() throws {
        let v = JSONValue.object(["a": .number(3), "b": .array([.bool(true), .null, .string("x\"y")]), "c": .number(1.5)])
        #expect(v.qmpText == #"{"a":3,"b":[true,null,"x\"y"],"c":1.5}"#)
        #expect(try QMPClient.decode(Array(v.qmpText.utf8)) == v)
        #expect(throws: QMPError.self) { try QMPClient.decode(Array("{nope".utf8)) }
    }
}
