import Foundation
import Testing

/// `bench calibrate` and `--driver`: bad input is one line and exit 2, before anything starts.
@Suite struct DriverBadInputTests {
    static let cases: [([String], String)] = [
        (["calibrate", "--runs", "1"], "--runs: invalid value \"1\": must be from 2 to 100"),
        (["calibrate", "--runtime", "0s"], "--runtime: invalid value \"0s\""),
        (["calibrate", "--ramp", "soon"], "--ramp: invalid value \"soon\""),
        (["run", "--driver", "spdk"], "spdk"),
    ]

    @Test(arguments: cases)
    func rejected(args: [String], expected: String) async throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try await bench(args, in: dir)
        #expect(exitCode(out) == 2, "stdout: \(out.stdout) stderr: \(out.stderr)")
        #expect(out.stderr.split(separator: "\n").count == 1, "expected one line, got: \(out.stderr)")
        #expect(out.stderr.contains(expected), "stderr: \(out.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "bad input wrote files")
    }
}
