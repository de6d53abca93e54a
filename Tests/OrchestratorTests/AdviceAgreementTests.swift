import Foundation
import GuestWire
import Qcow2Geometry
import Testing

@testable import Orchestrator

/// `bench advise` and the trace counters checked against QEMU itself: QEMU
/// reports no cache size, but its trace events count misses, so the advice
/// is right when reading every slice of an image twice misses only while
/// the cache fills (each L2 table once), and one byte less misses again on
/// the second pass.
@Suite(.tags(.startsQEMU)) struct AdviceAgreementTests {
    struct Case: Sendable, CustomStringConvertible {
        var disk: ByteSize
        var cluster: ByteSize
        var extended = false
        var description: String { "\(disk) at \(cluster)\(extended ? " extended_l2" : "")" }
    }

    static let cases = [
        Case(disk: .gib(1), cluster: .kib(64)), Case(disk: .gib(1), cluster: .kib(64), extended: true),
        Case(disk: .mib(16), cluster: .kib(4)), Case(disk: .mib(1), cluster: ByteSize(512)),
    ]

    /// L2 misses QEMU logs while reading one sector per L2 slice of the
    /// image (slices of the entry size QEMU uses below full coverage), twice.
    static func misses(image: String, geometry: ImageGeometry, options: [String], dir: String) async throws -> (
        misses: UInt64, lookups: UInt64, reads: Int
    ) {
        let trace = dir + "/trace-\(UUID().uuidString.prefix(6)).log"
        let slice = min(geometry.clusterSize.bytes, 4096)
        let span = slice / geometry.l2EntryBytes * geometry.clusterSize.bytes
        let offsets = stride(from: UInt64(0), to: geometry.diskSize.bytes, by: Int(span)).map { $0 }
        let commands = (offsets + offsets).flatMap { ["-c", "read -q \($0) 512"] }
        let opts = (["driver=qcow2", "file.driver=file", "file.filename=\(image)"] + options).joined(separator: ",")
        let out = try await ToolRunner.run(
            [
                "qemu-io", "-r", "-T", "enable=qcow2_cache_get_replace_entry", "-T", "enable=qcow2_cache_get_done", "-T", "file=\(trace)",
                "--image-opts", opts,
            ] + commands)
        #expect(out.succeeded, "qemu-io refused \(opts): \(out.stderr)")
        let s = try CacheTraceFile.summarize(path: trace)
        return (s.l2Misses, s.l2Lookups, offsets.count * 2)
    }

    @Test(arguments: cases) func advisedSizesGiveFullCoverageInQemu(_ c: Case) async throws {
        let dir = NSTemporaryDirectory() + "qcb-advice-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = dir + "/disk.qcow2"
        let created = try await ToolRunner.run([
            "qemu-img", "create", "-q", "-f", "qcow2",
            "-o", "cluster_size=\(c.cluster.bytes),preallocation=metadata,extended_l2=\(c.extended ? "on" : "off")", image, "\(c.disk.bytes)",
        ])
        try #require(created.succeeded, "\(created.stderr)")
        let geometry = ImageGeometry(diskSize: c.disk, clusterSize: c.cluster, extendedL2: c.extended)
        let advice = try CacheAdvice(geometry: geometry)
        let tables = advice.l2Need.bytes / c.cluster.bytes

        // The advised l2-cache-size and libvirt's max_size: every table read once.
        for option in [advice.blockdevOption, "cache-size=\(advice.cacheSize.bytes)"] {
            let r = try await Self.misses(image: image, geometry: geometry, options: [option], dir: dir)
            #expect(r.lookups == UInt64(r.reads), "\(option): one L2 lookup per read")
            #expect(r.misses == tables, "\(c): \(option) should miss only while filling (\(tables) tables), missed \(r.misses)")
        }
        // One byte less (above QEMU's 2-entry minimum): the second pass misses too.
        if advice.l2CacheSize == advice.l2Need, tables > 1 {
            for option in ["l2-cache-size=\(advice.l2CacheSize.bytes - 1)", "cache-size=\(advice.cacheSize.bytes - 1)"] {
                let r = try await Self.misses(image: image, geometry: geometry, options: [option], dir: dir)
                #expect(r.misses > UInt64(r.reads / 2), "\(c): \(option) should not cover the image, missed \(r.misses) of \(r.reads)")
            }
        }
    }

    /// Uniform random reads at 6.25% L2 coverage miss about 1 - 0.0625 of
    /// the time (16 GiB image, 64K clusters, 128K of 4K-entry L2 cache).
    @Test func missRatioFollowsTheCoverageModel() async throws {
        let dir = NSTemporaryDirectory() + "qcb-missratio-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = dir + "/disk.qcow2"
        let created = try await ToolRunner.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536,preallocation=metadata", image, "16G"])
        try #require(created.succeeded, "\(created.stderr)")
        let geometry = ImageGeometry(diskSize: .gib(16))
        let effective = QemuCacheModel.effective(CacheConfig(l2CacheSize: .value(.kib(128))), geometry: geometry)
        #expect(effective.l2CoveragePercent == 6.25)

        var rng = SplitMix64(seed: 11)
        let blocks = geometry.diskSize.bytes / 4096
        let commands = (0..<4000).flatMap { _ in ["-c", "read -q \((rng.next() % blocks) * 4096) 4k"] }
        let trace = dir + "/trace.log"
        let out = try await ToolRunner.run(
            [
                "qemu-io", "-r", "-T", "enable=qcow2_cache_get_replace_entry", "-T", "enable=qcow2_cache_get_done", "-T", "file=\(trace)",
                "--image-opts", "driver=qcow2,file.driver=file,file.filename=\(image),l2-cache-size=131072",
            ] + commands)
        try #require(out.succeeded, "\(out.stderr)")
        let s = try CacheTraceFile.summarize(path: trace)
        let ratio = try #require(s.l2MissRatio)
        #expect(s.l2Lookups == 4000)
        #expect(abs(ratio - (1 - effective.l2CoveragePercent / 100)) < 0.02, "misses per lookup \(ratio)")
    }

    /// The trace options on a real qemu-system, driven over QMP: timestamps
    /// appear, and every miss's read is timed.
    @Test func traceOptionsOnQemuSystemTimeMissReads() async throws {
        let dir = NSTemporaryDirectory() + "qcb-trace-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = dir + "/disk.qcow2"
        let created = try await ToolRunner.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536,preallocation=metadata", image, "4G"])
        try #require(created.succeeded, "\(created.stderr)")
        let trace = CacheTraceOptions(logFile: dir + "/trace.log")
        let qemu = try QMPTestQemu(
            extraArgs: [
                "-blockdev", "driver=qcow2,node-name=d0,file.driver=file,file.filename=\(image),l2-cache-size=65536",
            ] + trace.argv)
        let started = UInt64(Date().timeIntervalSince1970 * 1e6)
        do {
            let qmp = try await QMPClient.connect(path: qemu.socket)
            var rng = SplitMix64(seed: 5)
            for _ in 0..<300 {
                let offset = (rng.next() % (1 << 20)) * 4096
                _ = try await qmp.execute(
                    "human-monitor-command", arguments: .object(["command-line": .string("qemu-io d0 \"read -q \(offset) 4k\"")]))
            }
            _ = try await qmp.execute("quit")
        } catch {
            Issue.record("\(error)")
        }
        _ = await qemu.stop()
        let s = try CacheTraceFile.summarize(path: trace.logFile)
        #expect(s.l2Lookups == 300)
        #expect(s.l2Misses > 250 && s.timedReads == s.l2Misses, "\(s)")
        #expect((s.missReadMeanMicros ?? 0) > 0 && (s.missReadP99Micros ?? 0) >= (s.missReadP50Micros ?? .infinity))
        // The trace clock is the host's wall clock.
        #expect((s.firstMicros ?? 0) >= started - 1_000_000)
        let windowed = try CacheTraceFile.summarize(path: trace.logFile, window: 0..<started - 1_000_000)
        #expect(windowed.l2Lookups == 0)
    }
}

/// Reproducible offsets without Foundation's random sources.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
