/// fio as the guest runs it for `drv=fio`: the job equivalent to the native
/// loop, where the fio payload sits in the initramfs, and how fio's JSON
/// report becomes the shared `GuestResult`. Kept here, pure, so the guest
/// and the tests use the same code.
public enum FioJob {
    /// Where the initramfs's fio variant puts the host's fio binary.
    public static let executable = "/bin/fio"
    /// Every shared library fio needs is copied flat into this directory
    /// (the ELF interpreter goes to its own absolute path); fio runs with
    /// `LD_LIBRARY_PATH` set to it, as the initramfs has no ld.so.cache.
    public static let libraryDirectory = "/lib/qcb-fio"
    /// fio's JSON report, written to a file so stdout stays free for the
    /// console protocol.
    public static let reportPath = "/tmp/qcb-fio.json"
    /// `write_iops_log` prefix; fio appends `_iops.1.log` for the one job.
    public static let iopsLogPrefix = "/tmp/qcb-fio"
    public static var iopsLogPath: String { iopsLogPrefix + "_iops.1.log" }
    /// Percentiles requested, in the order `GuestResult.Latency` needs them.
    static let percentiles: [Double] = [50, 99, 99.9]

    /// fio's argv (without argv[0]) for `spec` on a device of `deviceBytes`.
    ///
    /// The same workload as the native loop: O_DIRECT random writes with
    /// libaio, `iodepth` in flight, offsets uniform over the same
    /// block-aligned span, seeded and without a random map (so blocks repeat
    /// as they do natively), ramp excluded, time based. Latency is `lat`
    /// (submit to completion), the native driver's measure; `clat`
    /// percentiles are switched off so fio keeps one histogram per I/O, as
    /// the native driver does. `clocksource=clock_gettime` avoids fio's TSC
    /// calibration, unreliable under TCG. Errors are counted, not fatal,
    /// like the native driver's.
    public static func arguments(spec: WorkloadSpec, deviceBytes: UInt64) -> [String] {
        let bs = UInt64(spec.blockSize)
        let span = spec.spanBytes == 0 ? deviceBytes : min(spec.spanBytes, deviceBytes)
        let size = max(bs, span / bs * bs)
        var distribution: [String] = []
        if case .zipf = spec.distribution { distribution = ["--random_distribution=\(spec.distribution)"] }
        return distribution + [
            "--name=qcb",
            "--filename=/dev/\(spec.device)",
            "--rw=randwrite",
            "--ioengine=libaio",
            "--direct=1",
            "--bs=\(bs)",
            "--iodepth=\(spec.iodepth)",
            "--ramp_time=\(spec.rampMillis)ms",
            "--runtime=\(spec.runtimeMillis)ms",
            "--time_based=1",
            "--size=\(size)",
            "--norandommap=1",
            "--randrepeat=0",
            "--randseed=\(randseed(spec.seed))",
            "--clocksource=clock_gettime",
            "--clat_percentiles=0",
            "--lat_percentiles=1",
            "--percentile_list=" + percentiles.map(percentileText).joined(separator: ":"),
            "--write_iops_log=\(iopsLogPrefix)",
            "--log_avg_msec=1000",
            "--continue_on_error=all",
            "--eta=never",
            "--output-format=json",
            "--output=\(reportPath)",
        ]
    }

    /// fio reads `randseed` as a signed 64-bit number and refuses anything
    /// above `Int64.max` ("failed parsing randseed="); slot seeds use all 64
    /// bits, so the top one is dropped. The seed stays fixed per slot.
    static func randseed(_ seed: UInt64) -> UInt64 { seed & UInt64(Int64.max) }

    static func percentileText(_ p: Double) -> String {
        p == p.rounded() ? String(Int(p)) : String(p)
    }

    /// Reads fio's JSON report (and its 1-second IOPS log, when there is one)
    /// into the shared record.
    ///
    /// - `ops`, `seconds`, `iops`, `mibPerSecond`: the write side's
    ///   `total_ios`, `runtime` (ms of the measured window, ramp excluded),
    ///   `iops`, `bw_bytes`.
    /// - latency: `lat_ns` percentiles (submit to completion), or `clat_ns`
    ///   when fio was run without `lat_percentiles`; microseconds.
    /// - `perSecondOps`: each 1000 ms window's average IOPS from the log,
    ///   which is that second's I/O count; empty without a log.
    /// - `ioErrors`: `total_err` plus short writes (the native driver counts
    ///   both); `firstError` names fio's first errno.
    /// - `bootToFirstIOMillis`, `deviceBytes`: measured by the guest around fio.
    public static func result(
        report: String, iopsLog: String?, spec: WorkloadSpec, bootToFirstIOMillis: UInt64, deviceBytes: UInt64
    ) throws(WireError) -> GuestResult {
        // fio may print notes before the document; it starts at the first '{'.
        guard let open = report.firstIndex(of: "{") else { throw .badFioReport("no JSON object in \(report.count) bytes") }
        let root = try JSONValue.parse(String(report[open...]))
        guard let job = root["jobs"]?[0] else { throw .badFioReport("no jobs[0]") }
        guard let write = job["write"] else { throw .badFioReport("jobs[0] has no write section") }
        func count(_ v: JSONValue?, _ name: String) throws(WireError) -> UInt64 {
            guard let n = v?.uint64 else { throw .badFioReport("missing or non-integer \(name)") }
            return n
        }
        func number(_ v: JSONValue?, _ name: String) throws(WireError) -> Double {
            guard let d = v?.double else { throw .badFioReport("missing \(name)") }
            return d
        }
        let ops = try count(write["total_ios"], "write.total_ios")
        let runtimeMillis = try count(write["runtime"], "write.runtime")
        let jobError = job["error"]?.uint64 ?? 0
        guard runtimeMillis > 0 else {
            throw .badFioReport(jobError != 0 ? "the job failed with errno \(jobError) before measuring" : "write.runtime is 0 ms")
        }

        let lat: JSONValue
        if let l = write["lat_ns"], l["percentile"] != nil {
            lat = l
        } else if let c = write["clat_ns"], c["percentile"] != nil {
            lat = c
        } else {
            throw .badFioReport("neither write.lat_ns nor write.clat_ns has percentiles")
        }
        guard let table = lat["percentile"]?.object else { throw .badFioReport("percentile is not an object") }
        var byPercent: [(Double, Double)] = []
        for (key, value) in table {
            guard let p = Double(key), let ns = value.double else { continue }
            byPercent.append((p, ns))
        }
        func percentile(_ p: Double) throws(WireError) -> Double {
            guard let hit = byPercent.first(where: { abs($0.0 - p) < 1e-6 }) else {
                throw .badFioReport("no \(percentileText(p))th latency percentile")
            }
            return hit.1 / 1000
        }

        let shortWrites = write["short_ios"]?.uint64 ?? 0
        let totalErrors = job["total_err"]?.uint64 ?? (jobError != 0 ? 1 : 0)
        let firstErrno = job["first_error"]?.uint64 ?? jobError
        var firstError: String? = nil
        if totalErrors > 0 {
            firstError = "fio: first error errno \(firstErrno)"
        } else if shortWrites > 0 {
            firstError = "fio: \(shortWrites) short writes"
        }

        return GuestResult(
            driver: GuestDriver.fio.rawValue,
            ops: ops,
            seconds: Double(runtimeMillis) / 1000,
            iops: try number(write["iops"], "write.iops"),
            mibPerSecond: try number(write["bw_bytes"], "write.bw_bytes") / 1_048_576,
            latency: .init(
                meanUs: try number(lat["mean"], "latency mean") / 1000,
                p50Us: try percentile(50),
                p99Us: try percentile(99),
                p999Us: try percentile(99.9),
                maxUs: try number(lat["max"], "latency max") / 1000),
            perSecondOps: try iopsLog.map { (log) throws(WireError) in try perSecond(log: log, runtimeMillis: spec.runtimeMillis) } ?? [],
            ioErrors: totalErrors + shortWrites,
            firstError: firstError,
            bootToFirstIOMillis: bootToFirstIOMillis,
            deviceBytes: deviceBytes,
            spec: spec)
    }

    /// Write samples of an averaged fio log (`msec, value, ddir, bs, offset[, prio]`),
    /// at most one per whole second of the runtime, rounded to whole I/Os.
    static func perSecond(log: String, runtimeMillis: UInt32) throws(WireError) -> [UInt64] {
        var out: [UInt64] = []
        let limit = max(1, (Int(runtimeMillis) + 999) / 1000)
        for line in log.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let fields = line.split(separator: ",").map { $0.filter { !$0.isWhitespace } }
            guard fields.count >= 3 else { continue }
            guard let value = Double(fields[1]), value >= 0, let ddir = Int(fields[2]) else {
                throw .badFioReport("IOPS log line not understood: \(line.prefix(60))")
            }
            if ddir == 1, out.count < limit { out.append(UInt64(value.rounded())) }
        }
        return out
    }
}
