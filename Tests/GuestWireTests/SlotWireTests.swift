import Testing

@testable import GuestWire

@Suite("Slot protocol")
struct SlotWireTests {
    @Test func slotCommandRoundTrips() throws {
        let c = SlotCommand(id: 7, disk: "d3", seed: 12, spanBytes: 17_179_869_184, warmupCapMillis: 1000, measureMillis: 3000)
        #expect(c.line == "SLOT id=7 disk=d3 seed=12 span=17179869184 warm=1000 run=3000")
        #expect(try SlotCommand(line: c.line) == c)
        var f = c
        f.driver = .fio
        #expect(f.line == c.line + " drv=fio")
        #expect(try SlotCommand(line: f.line) == f)
    }

    @Test(arguments: [
        "SLOT id=1 disk=d0 seed=1 span=0 warm=0",  // no run
        "SLOT id=1 disk=d/0 seed=1 span=0 warm=0 run=1",  // bad disk
        "SLOT id=x disk=d0 seed=1 span=0 warm=0 run=1",
        "SLOT id=1 disk=d0 seed=1 span=0 warm=0 run=0",
        "SLOTS id=1",
        "SLOT id",
        "SLOT id=1 disk=d0 seed=1 span=0 warm=0 run=1 drv=dd",
    ])
    func badSlotCommandsAreRefused(line: String) {
        #expect(throws: WireError.self) { try SlotCommand(line: line) }
    }

    @Test func steadyStateNeedsTheMinimumAndAFlatWindow() {
        let flat: [UInt64] = [400, 410, 395, 405, 400, 398]
        #expect(SteadyState.isSteady(flat, elapsedMillis: 150))
        #expect(!SteadyState.isSteady(flat, elapsedMillis: 149))
        #expect(!SteadyState.isSteady(Array(flat.prefix(5)), elapsedMillis: 1000))
        // Rising 5% per bucket: 25% across the window, not steady.
        let rising: [UInt64] = [100, 105, 110, 115, 120, 125]
        #expect(!SteadyState.isSteady(rising, elapsedMillis: 1000))
        // Only the last window counts: an early ramp is forgiven.
        #expect(SteadyState.isSteady([10, 50, 200] + flat, elapsedMillis: 225))
        #expect(!SteadyState.isSteady([0, 0, 0, 0, 0, 0], elapsedMillis: 1000))
    }
}
