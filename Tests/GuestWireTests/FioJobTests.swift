import Foundation
@testable import GuestWire
import Testing

/// fio's report, as the guest reads it into the shared record. The fixtures
/// are a real capture: fio 3.33 in the guest on a 1G null-co disk (4K random
/// writes, qd 32, ramp 1 s, runtime 3 s, seed 2), copied off the console with
/// the `qcb.dump` kernel parameter, and the result line the guest printed
/// for that same report.
@Suite struct FioReportTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }

    static let spec = WorkloadSpec(
        blockSize: 4096, iodepth: 32, rampMillis: 1000, runtimeMillis: 3000, spanBytes: 1 << 30, seed: 2, device: "vda",
        driver: .fio)

    static func parse(report: String, log: String?) throws -> GuestResult {
        try FioJob.result(report: report, iopsLog: log, spec: spec, bootToFirstIOMillis: 2994, deviceBytes: 1 << 30)
    }

    @Test func readsTheCapturedReport() throws {
        let r = try Self.parse(
            report: Self.fixture("fio-3.33-null-co-report.json"), log: Self.fixture("fio-3.33-null-co_iops.1.log"))
        #expect(r.driver == "fio")
        #expect(r.ops == 80389)
        #expect(r.seconds == 3.001)
        #expect(r.iops == 26787.404199)
        #expect(r.mibPerSecond == 109_764_883.0 / 1_048_576)
        #expect(r.latency == .init(meanUs: 1189.849867608, p50Us: 1155.072, p99Us: 2342.912, p999Us: 3457.024, maxUs: 6757.954))
        #expect(r.perSecondOps == [26438, 26150, 27828])
        #expect(r.ioErrors == 0)
        #expect(r.firstError == nil)
        #expect(r.bootToFirstIOMillis == 2994)
        #expect(r.deviceBytes == 1 << 30)
        #expect(r.spec == Self.spec)
    }

    @Test func matchesTheLineTheGuestPrinted() throws {
        let r = try Self.parse(
            report: Self.fixture("fio-3.33-null-co-report.json"), log: Self.fixture("fio-3.33-null-co_iops.1.log"))
        let printed = try Self.fixture("fio-3.33-null-co-result.json").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try JSONLine.encode(r) == printed)
        #expect(try JSONDecoder().decode(GuestResult.self, from: Data(printed.utf8)) == r)
    }

    @Test func withoutALogPerSecondOpsIsEmpty() throws {
        let r = try Self.parse(report: Self.fixture("fio-3.33-null-co-report.json"), log: nil)
        #expect(r.perSecondOps.isEmpty)
        #expect(r.ops == 80389)
    }

    @Test func notesBeforeTheDocumentAreSkipped() throws {
        let report = "fio: note: something\n" + (try Self.fixture("fio-3.33-null-co-report.json"))
        #expect(try Self.parse(report: report, log: nil).ops == 80389)
    }

    @Test func errorsAreCounted() throws {
        // The capture, edited: fio counted 3 errors, the first EIO.
        let report = try Self.fixture("fio-3.33-null-co-report.json")
            .replacingOccurrences(of: "\"total_err\" : 0", with: "\"total_err\" : 3")
            .replacingOccurrences(of: "\"first_error\" : 0", with: "\"first_error\" : 5")
        let r = try Self.parse(report: report, log: nil)
        #expect(r.ioErrors == 3)
        #expect(r.firstError == "fio: first error errno 5")
    }

    @Test func unusableReportsAreRefused() throws {
        let good = try Self.fixture("fio-3.33-null-co-report.json")
        #expect(throws: WireError.self) { try Self.parse(report: "", log: nil) }
        #expect(throws: WireError.self) { try Self.parse(report: String(good.prefix(2000)), log: nil) }
        #expect(throws: WireError.badFioReport("neither write.lat_ns nor write.clat_ns has percentiles")) {
            try Self.parse(report: good.replacingOccurrences(of: "\"percentile\"", with: "\"percentiles\""), log: nil)
        }
        #expect(throws: WireError.self) { try Self.parse(report: good, log: "1000, many, 1, 0, 0\n") }
    }

    @Test func logKeepsWritesAndAtMostOneSamplePerSecond() throws {
        let log = "1000, 10, 1, 0, 0\n1000, 99, 0, 0, 0\n2000, 11, 1, 0, 0\n3000, 12, 1, 0, 0\n3001, 13, 1, 0, 0\n"
        let r = try Self.parse(report: Self.fixture("fio-3.33-null-co-report.json"), log: log)
        #expect(r.perSecondOps == [10, 11, 12])
    }
}

@Suite struct FioArgumentsTests {
    @Test func theJobMatchesTheNativeWorkload() {
        let spec = WorkloadSpec(
            blockSize: 4096, iodepth: 16, rampMillis: 1500, runtimeMillis: 2000, spanBytes: 0, seed: 9, driver: .fio)
        let args = FioJob.arguments(spec: spec, deviceBytes: 1 << 30)
        for expected in [
            "--filename=/dev/vda", "--rw=randwrite", "--ioengine=libaio", "--direct=1", "--bs=4096", "--iodepth=16",
            "--ramp_time=1500ms", "--runtime=2000ms", "--time_based=1", "--size=1073741824", "--norandommap=1",
            "--randrepeat=0", "--randseed=9", "--lat_percentiles=1", "--percentile_list=50:99:99.9",
            "--write_iops_log=\(FioJob.iopsLogPrefix)", "--log_avg_msec=1000", "--output-format=json",
            "--output=\(FioJob.reportPath)",
        ] {
            #expect(args.contains(expected), "\(expected)")
        }
    }

    /// fio 3.33 refuses `--randseed=9932109679783845256` ("failed parsing
    /// randseed"), a seed a shared guest's slot got; Int64.max it takes.
    @Test func theSeedFitsFiosSignedParse() {
        let spec = WorkloadSpec(seed: 9_932_109_679_783_845_256, driver: .fio)
        let args = FioJob.arguments(spec: spec, deviceBytes: 1 << 30)
        #expect(args.contains("--randseed=708737642929069448"))
        #expect(FioJob.randseed(UInt64(Int64.max)) == UInt64(Int64.max))
    }

    @Test func theSpanIsClampedToTheDeviceAndWholeBlocks() {
        var spec = WorkloadSpec(blockSize: 4096, spanBytes: 10_000, driver: .fio)
        #expect(FioJob.arguments(spec: spec, deviceBytes: 1 << 30).contains("--size=8192"))
        spec.spanBytes = 4 << 30
        #expect(FioJob.arguments(spec: spec, deviceBytes: 1 << 30).contains("--size=1073741824"))
    }
}

@Suite struct JSONValueTests {
    @Test func parsesEveryKind() throws {
        let v = try JSONValue.parse(#" { "a" : [1, -2.5e3, true, false, null], "s": "q\"\\\/\n\u00e9\ud83d\ude00", "o": {} } "#)
        #expect(v["a"]?[0]?.double == 1)
        #expect(v["a"]?[1]?.double == -2500)
        #expect(v["a"]?[2] == .bool(true))
        #expect(v["a"]?[4] == .null)
        #expect(v["a"]?[5] == nil)
        #expect(v["s"]?.string == "q\"\\/\né😀")
        #expect(v["o"]?.object?.isEmpty == true)
        #expect(v["missing"] == nil)
    }

    @Test func countsMustBeWholeNumbers() throws {
        #expect(try JSONValue.parse("80389").uint64 == 80389)
        #expect(try JSONValue.parse("1.5").uint64 == nil)
        #expect(try JSONValue.parse("-1").uint64 == nil)
    }

    @Test func malformedDocumentsThrow() {
        for text in ["", "{", "[1,]", "{\"a\" 1}", "\"unterminated", "tru", "1 2", "{\"a\":1,}", "\"\u{01}\"", "-"] {
            #expect(throws: WireError.self, "\(text)") { try JSONValue.parse(text) }
        }
        #expect(throws: WireError.self) { try JSONValue.parse(String(repeating: "[", count: 500) + String(repeating: "]", count: 500)) }
    }
}
