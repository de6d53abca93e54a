import Testing

@testable import Orchestrator

extension Tag {
    /// Starts a real QEMU process (qemu-system, qemu-io or qemu-img), no guest.
    @Tag static var startsQEMU: Self
}

@Suite struct CacheTraceSupportTests {
    @Test func findsMissingEvents() {
        let help = "breakpoint_insert\nqcow2_cache_get\nqcow2_cache_get_replace_entry\nqcow2_cache_get_done\n"
        #expect(CacheTraceSupport.missingEvents(inTraceHelp: help) == [.read])
        #expect(CacheTraceSupport.missingEvents(inTraceHelp: "").count == 3)
    }

    @Test(.tags(.startsQEMU)) func thisQemuListsTheEvents() async {
        #expect(await CacheTraceSupport.problem() == nil)
        #expect(await CacheTraceSupport.problem(qemu: "/nonexistent/qemu") != nil)
    }
}
