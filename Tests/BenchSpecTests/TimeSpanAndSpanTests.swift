import Qcow2Geometry
import Testing

@testable import BenchSpec

@Suite("TimeSpan and Span parsing")
struct TimeSpanAndSpanTests {
    @Test(arguments: [
        ("500ms", 500), ("8s", 8000), ("8", 8000), ("2m", 120_000), ("1h", 3_600_000), (" 3 S ", 3000), ("24h", 86_400_000),
    ])
    func timeSpanParses(text: String, milliseconds: UInt32) throws {
        #expect(try TimeSpan(parsing: text, field: "f").milliseconds == milliseconds)
    }

    @Test(arguments: ["", "s", "1.5s", "-1s", "8 sec", "25h", "0", "0ms", "99999999999999999999"])
    func timeSpanRejects(text: String) {
        #expect(throws: InvalidValue.self) { try TimeSpan(parsing: text, field: "f") }
    }

    @Test func timeSpanZeroOnlyWhenAllowed() throws {
        #expect(try TimeSpan(parsing: "0s", field: "f", allowZero: true).milliseconds == 0)
        #expect(
            throws: InvalidValue(
                field: "workload.runtime", value: "0",
                rule: "expected a whole number with a unit, ms, s, m or h (e.g. 500ms, 8s, 2m), greater than zero; at most 24h")
        ) {
            try TimeSpan(parsing: "0", field: "workload.runtime")
        }
    }

    @Test func timeSpanDescriptionRoundTrips() throws {
        for ms: UInt32 in [1, 500, 1000, 1500, 60_000, 90_000, 3_600_000] {
            let t = TimeSpan(milliseconds: ms)
            #expect(try TimeSpan(parsing: t.description, field: "f") == t)
        }
        #expect(TimeSpan(milliseconds: 90_000).description == "90s")
        #expect(TimeSpan(milliseconds: 120_000).description == "2m")
    }

    @Test func spanParses() throws {
        #expect(try Span(parsing: "100%", field: "f") == .whole)
        #expect(try Span(parsing: " 25% ", field: "f") == .percent(25))
        #expect(try Span(parsing: "4G", field: "f") == .bytes(.gib(4)))
        #expect(try Span(parsing: "1%", field: "f").description == "1%")
    }

    @Test(arguments: ["0%", "101%", "50.5%", "%", "x%", "", "4Q"])
    func spanRejects(text: String) {
        #expect(throws: InvalidValue.self) { try Span(parsing: text, field: "f") }
    }

    @Test func spanBytes() {
        #expect(Span.whole.bytes(of: .gib(16)) == 16 << 30)
        #expect(Span.percent(50).bytes(of: .gib(16)) == 8 << 30)
        #expect(Span.bytes(.gib(4)).bytes(of: .gib(1)) == 1 << 30)
        #expect(Span.bytes(.mib(4)).bytes(of: .gib(1)) == 4 << 20)
    }
}
