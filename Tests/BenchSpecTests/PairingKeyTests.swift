import Testing

@testable import BenchSpec

@Suite("Pairing keys")
struct PairingKeyTests {
    @Test func keysParseAndEnterTheHashOnlyWhenSet() throws {
        let plain = try Fixtures.parse(Fixtures.minimal)
        #expect(plain.pairing == Pairing())
        let m = try Fixtures.parse("""
            name = "t"
            [workload]
            isolation = "shared"
            target_ci = "3%"
            min_blocks = 6
            max_blocks = 40
            budget = "5m"
            """)
        #expect(m.pairing == Pairing(isolation: .shared, targetCI: 0.03, minBlocks: 6, maxBlocks: 40, budget: .seconds(300)))
        #expect(m.hash != plain.hash)
        #expect(m.canonicalDescription.contains("workload.target_ci=3%\n"))
        #expect(!plain.canonicalDescription.contains("target_ci"))
    }

    @Test(arguments: [
        ("isolation = \"together\"", "m.toml: workload.isolation: invalid value \"together\": must be one of: shared, guest-per-run"),
        ("target_ci = \"0%\"", "m.toml: workload.target_ci: invalid value \"0%\": must be a percentage above 0% and at most 50%, e.g. \"3%\""),
        ("target_ci = \"60%\"", "m.toml: workload.target_ci: invalid value \"60%\": must be a percentage above 0% and at most 50%, e.g. \"3%\""),
        ("min_blocks = 1", "m.toml: workload.min_blocks: invalid value \"1\": must be from 2 to 1000"),
        ("min_blocks = 9\nmax_blocks = 8", "m.toml: workload.min_blocks: invalid value \"9\": must not exceed workload.max_blocks (8)"),
    ])
    func badPairingKeys(line: String, message: String) {
        #expect(Fixtures.error("name = \"t\"\n[workload]\n\(line)\n") == message)
    }

    @Test func sharedIsRefusedForCellsThatCannotShare() {
        let text = Fixtures.error("""
            name = "t"
            [workload]
            isolation = "shared"
            [image]
            state = ["snapshot"]
            """)
        #expect(text?.contains("workload.isolation: invalid value \"shared\": cell qcow2-snapshot-16G") == true)
        #expect(text?.contains("a snapshot image is fully allocated") == true)
    }
}
