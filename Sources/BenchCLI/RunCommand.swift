import BenchResults
import ArgumentParser
import BenchSpec
import Foundation
import GuestWire
import Orchestrator
import Qcow2Geometry

/// `bench run`: one cache configuration, one guest, one record.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Measure one qcow2 cache configuration in one guest.",
        discussion: "Sizes take QEMU's suffixes (K, M, G, T: powers of 1024) or plain bytes; cache options take 'default' to leave the choice to QEMU.")

    @Option(help: "Virtual disk size.") var diskSize = "16G"
    @Option(help: "qcow2 cluster size (512 to 2M, power of two).") var clusterSize = "64K"
    @Option(help: "L2 table cache size, or 'default'.") var l2CacheSize = "default"
    @Option(help: "L2 cache entry size (512 to cluster size), or 'default'.") var l2CacheEntrySize = "default"
    @Option(help: "Refcount block cache size, or 'default'.") var refcountCacheSize = "default"
    @Option(help: "Seconds before unused cache entries are freed (0 = never), or 'default'.") var cacheCleanInterval = "default"
    @Option(help: "Combined L2 + refcount cache size (QEMU's cache-size; libvirt's metadata_cache max_size), or 'default'. At most two of --cache-size, --l2-cache-size, --refcount-cache-size.")
    var cacheSize = "default"
    @Option(help: "Image state before the run.") var imageState: ImageStateChoice = .preallocated
    @Option(help: "What the guest writes to: a qcow2 image, QEMU's null-co driver (ceiling) or a raw image.") var disk: DiskKindChoice = .qcow2
    @Option(help: "Measured time (e.g. 10s, 500ms).") var runtime = "10s"
    @Option(help: "Warm-up before measuring.") var ramp = "2s"
    @Option(help: "I/Os in flight.") var iodepth = 32
    @Option(help: "Bytes per write.") var blockSize = "4K"
    @Option(help: "Part of the disk the random offsets cover: a percentage or a size.") var span = "100%"
    @Option(help: "Seed of the offset generator.") var seed: UInt64 = 1
    @Option(help: "Offset distribution: uniform, or zipf:THETA (hot spots, as fio's random_distribution).") var distribution = "uniform"
    @Option(help: ArgumentHelp("Phases after the ramp instead of --runtime, comma-separated, e.g. 'write 4s,idle 15s,write 4s'.", valueName: "list"))
    var phases: String?
    @Option(help: "What generates the I/O in the guest: the native libaio loop, or fio with the equivalent job (needs fio on the host).")
    var driver: DriverChoice = .native
    @Flag(help: "Print the JSON record instead of a summary.") var json = false
    @OptionGroup var guest: GuestOptions
    @OptionGroup var qemuBuilds: QemuBuildOptions

    /// Parsed form of the options; filled in `validate()` so `run()` only runs.
    struct Parsed {
        var cell: Cell
    }

    func parse() throws -> Parsed {
        let geometry = ImageGeometry(
            diskSize: try parsed { () throws(InvalidValue) in try ByteSize(parsing: diskSize, field: "--disk-size") },
            clusterSize: try parsed { () throws(InvalidValue) in try ByteSize(parsing: clusterSize, field: "--cluster-size") })
        let cache = CacheConfig(
            l2CacheSize: try parsed { () throws(InvalidValue) in try Setting(parsing: l2CacheSize, field: "--l2-cache-size") },
            l2CacheEntrySize: try parsed { () throws(InvalidValue) in try Setting(parsing: l2CacheEntrySize, field: "--l2-cache-entry-size") },
            refcountCacheSize: try parsed { () throws(InvalidValue) in try Setting(parsing: refcountCacheSize, field: "--refcount-cache-size") },
            cacheCleanInterval: try parsed { () throws(InvalidValue) in try Setting(parsingSeconds: cacheCleanInterval, field: "--cache-clean-interval") },
            cacheSize: try parsed { () throws(InvalidValue) in try Setting(parsing: cacheSize, field: "--cache-size") })
        let workload = Workload(
            blockSize: try parsed { () throws(InvalidValue) in try ByteSize(parsing: blockSize, field: "--block-size") },
            iodepth: iodepth,
            ramp: try parsed { () throws(InvalidValue) in try TimeSpan(parsing: ramp, field: "--ramp", allowZero: true) },
            runtime: try parsed { () throws(InvalidValue) in try TimeSpan(parsing: runtime, field: "--runtime") },
            span: try parsed { () throws(InvalidValue) in try Span(parsing: span, field: "--span") },
            driver: driver.driver,
            distribution: try parsed { () throws(InvalidValue) in try OffsetDistribution(parsing: distribution, field: "--distribution") },
            phases: try phases.map { (list) throws in
                try parsed { () throws(InvalidValue) in
                    try WorkloadPhase.parseList(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, field: "--phases")
                }
            } ?? [])
        var cell = Cell(kind: disk.kind, state: imageState.state, geometry: geometry, cache: cache, workload: workload)
        cell.build = try qemuBuilds.single(command: "run")
        try parsed { () throws(InvalidValue) in try cell.validate(spelling: .commandLine) }
        return Parsed(cell: cell)
    }

    func validate() throws {
        let cell = try parse().cell
        if let refusal = DiskFootprint.refusal(cells: [cell], diskField: "--disk-size") { throw ValidationError(refusal) }
    }

    func run() async throws {
        let cell = try parse().cell
        // The build is checked (runs, is QEMU, a version the model knows)
        // before anything starts: a bad one is bad input, exit 2.
        let builds = try await qemuBuilds.resolve([cell.build])
        // Ctrl-C during setup also stops cleanly and exits 130 (HarnessSetup).
        let harnesses = try await HarnessSetup.start(
            guest: guest, name: "bench-run", hash: "-", seed: seed, drivers: [cell.workload.driver], builds: builds)
        guard let ready = harnesses[cell.workload.driver] else { throw fail("internal: no harness", code: 1) }
        let task = Task { () async -> RunRecord in
            await ready.runner.run(PlannedRun(cell: cell, repetition: 1), sequence: 0)
        }
        Interrupts.install { task.cancel() }
        let result = await task.result
        ready.shutdown()
        if case .success(let record) = result {
            if json {
                let data = try ResultsLog.makeEncoder().encode(record)
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(Summary.text(record))
            }
        }
        if Interrupts.interrupted { throw ExitCode(130) }
        switch result {
        case .failure(let error): throw error
        case .success(let record): if record.status != .ok { throw ExitCode(1) }
        }
    }

}

enum ImageStateChoice: String, ExpressibleByArgument, CaseIterable {
    case preallocated, allocated, fresh, snapshot, overlay
    var state: ImageState { ImageState(rawValue: rawValue) ?? .preallocated }
}

enum DriverChoice: String, ExpressibleByArgument, CaseIterable {
    case native, fio
    var driver: GuestDriver { GuestDriver(rawValue: rawValue) ?? .native }
}

enum DiskKindChoice: String, ExpressibleByArgument, CaseIterable {
    case qcow2, null, raw
    var kind: DiskKind { DiskKind(rawValue: rawValue) ?? .qcow2 }
}

/// Prints `message` as one line on stderr and returns the exit status to throw.
func fail(_ message: String, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(code)
}

/// A short human summary of one record.
enum Summary {
    static func text(_ r: RunRecord) -> String {
        var lines: [String] = []
        let cell = r.cell
        lines.append("cell      \(r.cellID)")
        if let e = r.effective {
            let g = cell.geometry
            if let combined = cell.cache.cacheSize.value {
                lines.append("cache     cache-size \(combined) -> split by QEMU into the L2 and refcount caches below")
            }
            lines.append(
                "l2 cache  \(cell.cache.l2CacheSize) -> \(e.l2CacheBytes.humanReadable) effective (\(e.l2Entries) entries of \(e.l2EntrySize.humanReadable)); covers \(ByteSize(e.l2CoverageBytes).humanReadable) of \(g.diskSize.humanReadable) = \(String(format: "%.2f", e.l2CoveragePercent))%")
            lines.append(
                "refcount  \(cell.cache.refcountCacheSize) -> \(e.refcountCacheBytes.humanReadable) effective; covers \(ByteSize(e.refcountCoverageBytes).humanReadable) = \(String(format: "%.2f", e.refcountCoveragePercent))%")
            lines.append("clean     \(cell.cache.cacheCleanInterval) -> \(e.cacheCleanInterval) s")
        }
        lines.append("driver    \(r.result?.driver ?? cell.workload.driver.rawValue)")
        lines.append("accel     \(r.provenance.accel) (\(r.provenance.accelReason)); QEMU \(r.provenance.qemuVersion)")
        if let res = r.result {
            lines.append(String(format: "IOPS      %.0f  (%.1f MiB/s, %llu writes in %.1f s)", res.iops, res.mibPerSecond, res.ops, res.seconds))
            lines.append(String(format: "latency   p50 %.0f us  p99 %.0f us  p99.9 %.0f us  max %.0f us", res.latency.p50Us, res.latency.p99Us, res.latency.p999Us, res.latency.maxUs))
            lines.append("per sec   \(res.perSecondOps.isEmpty ? "(not reported)" : res.perSecondOps.map(String.init).joined(separator: " "))")
            lines.append("boot      \(res.bootToFirstIOMillis) ms to first I/O")
        }
        if let f = r.failure {
            lines.append("FAILED    \(f)")
            for l in (r.consoleTail ?? []).suffix(5) { lines.append("  console | \(l)") }
            for l in (r.stderrTail ?? []).suffix(5) { lines.append("  qemu    | \(l)") }
        }
        return lines.joined(separator: "\n")
    }
}
