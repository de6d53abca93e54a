import Qcow2Geometry
import Testing

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("4096", UInt64(4096)), ("64K", 65536), ("64k", 65536), ("1M", 1 << 20), ("16G", 16 << 30), ("2T", 2 << 40),
        ("1E", 1 << 60), ("512B", 512), ("4KiB", 4096), (" 8M ", 8 << 20),
    ])
    func parsesQemuSuffixes(text: String, bytes: UInt64) throws {
        #expect(try ByteSize(parsing: text, field: "--x").bytes == bytes)
    }

    @Test(arguments: ["", "-1", "1.5M", "12Q", "0", "M", "K64", "1 M", "18446744073709551616", "16E", "0x10"])
    func rejectsMalformed(text: String) {
        #expect(throws: InvalidValue.self) { try ByteSize(parsing: text, field: "--disk-size") }
    }

    @Test func errorNamesFieldValueAndRule() {
        #expect(throws: InvalidValue(field: "--l2-cache-size", value: "12Q", rule: ByteSizeRule.text)) {
            try ByteSize(parsing: "12Q", field: "--l2-cache-size")
        }
        let e = InvalidValue(field: "--l2-cache-size", value: "12Q", rule: ByteSizeRule.text)
        #expect(e.description == "--l2-cache-size: invalid value \"12Q\": \(ByteSizeRule.text)")
    }

    @Test func overflowHasItsOwnRule() {
        #expect(throws: InvalidValue(field: "f", value: "16E", rule: "too large: sizes must fit in 64 bits (at most 16E - 1 byte)")) {
            try ByteSize(parsing: "16E", field: "f")
        }
    }

    @Test func shortestExactSpelling() {
        #expect(ByteSize(65536).description == "64K")
        #expect(ByteSize(1536 << 10).description == "1536K")
        #expect(ByteSize(1000).description == "1000")
        #expect(ByteSize.gib(16).description == "16G")
    }

    @Test func settingParsesDefault() throws {
        #expect(try Setting<ByteSize>(parsing: "default", field: "f") == .default)
        #expect(try Setting<ByteSize>(parsing: "1M", field: "f") == .value(.mib(1)))
        #expect(try Setting<Int>(parsingSeconds: "30s", field: "f") == .value(30))
        #expect(try Setting<Int>(parsingSeconds: "0", field: "f") == .value(0))
        #expect(throws: InvalidValue.self) { try Setting<Int>(parsingSeconds: "-5", field: "f") }
        #expect(throws: InvalidValue.self) { try Setting<Int>(parsingSeconds: "1.5", field: "f") }
    }
}

enum ByteSizeRule {
    static let text = "expected a whole number of bytes greater than zero, optionally with a K, M, G, T, P or E suffix (powers of 1024), e.g. 64K or 16G"
}
