import Foundation
import Testing

@testable import Orchestrator

/// The removal probe measures this host's file system for real: it must
/// give a positive figure where images live, and leave nothing behind.
@Suite struct RemovalProbeTests {
    @Test func measuresAPositiveCostPerWriteAndLeavesNoFile() throws {
        let dir = "/var/tmp/removal-probe-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let perWrite = try #require(RemovalProbe.secondsPerWrite(directory: dir, writes: 512))
        #expect(perWrite > 0 && perWrite < 0.01)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func aMissingDirectoryGivesNoFigure() {
        #expect(RemovalProbe.secondsPerWrite(directory: "/var/tmp/no-such-dir-\(UUID().uuidString)", writes: 8) == nil)
    }
}
