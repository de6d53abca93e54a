import BenchSpec
import Foundation
import Qcow2Geometry
import Testing

@testable import Orchestrator

/// Work directories whose harness is gone are removed by the next harness;
/// live ones, and ones it cannot attribute, are not.
@Suite struct WorkDirectoryTests {
    func makeParent() throws -> String {
        let dir = NSTemporaryDirectory() + "workdir-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func makeDir(_ parent: String, _ name: String, owner: String?) throws {
        let dir = parent + "/" + WorkDirectory.namePrefix + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(count: 4096).write(to: URL(fileURLWithPath: dir + "/disk-0.qcow2"))
        if let owner { try owner.write(toFile: dir + "/" + WorkDirectory.ownerFileName, atomically: true, encoding: .utf8) }
    }

    /// A pid no process has right now.
    func unusedPid() -> pid_t {
        var pid: pid_t = 4_000_000
        while FileManager.default.fileExists(atPath: "/proc/\(pid)") { pid -= 1 }
        return pid
    }

    @Test func removesDirectoriesOfDeadOrRecycledOwnersOnly() throws {
        let parent = try makeParent()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let me = getpid()
        let start = try #require(WorkDirectory.processStartTime(me))
        try makeDir(parent, "dead", owner: "\(unusedPid()) 12345\n")
        try makeDir(parent, "recycled", owner: "\(me) \(start + 1)\n")
        try makeDir(parent, "live", owner: "\(me) \(start)\n")
        try makeDir(parent, "unowned", owner: nil)
        try FileManager.default.createDirectory(atPath: parent + "/unrelated", withIntermediateDirectories: true)
        try "\(unusedPid()) 1\n".write(toFile: parent + "/unrelated/owner", atomically: true, encoding: .utf8)

        let removed = WorkDirectory.removeStale(in: parent).map { ($0 as NSString).lastPathComponent }.sorted()
        #expect(removed == [WorkDirectory.namePrefix + "dead", WorkDirectory.namePrefix + "recycled"])
        let left = try FileManager.default.contentsOfDirectory(atPath: parent).sorted()
        #expect(left == [WorkDirectory.namePrefix + "live", WorkDirectory.namePrefix + "unowned", "unrelated"])
    }

    @Test func aNewDirectoryRecordsItsOwnerAndSweepsStaleOnes() throws {
        let parent = try makeParent()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        try makeDir(parent, "dead", owner: "\(unusedPid()) 1\n")
        let work = try WorkDirectory(parent: parent)
        defer { work.remove() }
        let owner = try String(contentsOfFile: work.path + "/" + WorkDirectory.ownerFileName, encoding: .utf8)
        #expect(owner == "\(getpid()) \(try #require(WorkDirectory.processStartTime(getpid())))\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == [(work.path as NSString).lastPathComponent])
    }

    @Test func childrenAreStartedThroughSetprivWithADeathSignal() throws {
        let argv = try DiesWithHarness.argv(["qemu-img", "create", "x"])
        #expect(argv.count == 7)
        #expect(argv[0].hasSuffix("/setpriv"))
        #expect(Array(argv[1...]) == ["--pdeathsig", "KILL", "--", "qemu-img", "create", "x"])
    }

    @Test func footprintRefusalNamesTheFieldTheValueAndBothNumbers() {
        let cell = Cell(geometry: ImageGeometry(diskSize: .gib(64)))
        let f = DiskFootprint(cells: [cell])
        #expect(f.refusal(diskField: "--disk-size", free: f.preparedBytes, at: "/t") == nil)
        #expect(f.refusal(diskField: "--disk-size", free: nil, at: "/t") == nil)
        let text = f.refusal(diskField: "--disk-size", free: 1 << 20, at: "/t")
        #expect(text?.hasPrefix("--disk-size: invalid value \"64G\": the images need 17 MiB") == true, "\(text ?? "nil")")
        #expect(text?.contains("under /t, but only 1 MiB is free there") == true, "\(text ?? "nil")")
    }
}
