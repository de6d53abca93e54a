import Foundation
import Testing

/// Golden-file comparison for the report formatters.
///
/// Golden files live in `Tests/ReportingTests/Snapshots/` in the source tree
/// (found from `#filePath`; Package.swift excludes the folder from the test
/// bundle's resources, so they are read in place and committed with the
/// code). A mismatch fails the test and names the first differing line.
///
/// To accept new output on purpose, re-record and review the diff:
///
///     RECORD_SNAPSHOTS=1 swift test --filter ReportingTests
///
/// Without `RECORD_SNAPSHOTS=1` the files are never written.
enum Snapshot {
    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    }

    static var recording: Bool { ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" }

    static func check(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = directory.appendingPathComponent(name)
        if recording {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(actual.utf8).write(to: url)
            return
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            Issue.record(
                "missing golden file \(url.path); run `RECORD_SNAPSHOTS=1 swift test --filter ReportingTests` to create it",
                sourceLocation: sourceLocation)
            return
        }
        let expected = String(decoding: data, as: UTF8.self)
        guard expected != actual else { return }
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var line = 0
        while line < min(e.count, a.count), e[line] == a[line] { line += 1 }
        let want = line < e.count ? String(e[line]) : "<end of file>"
        let got = line < a.count ? String(a[line]) : "<end of output>"
        Issue.record(
            """
            \(name) differs from the golden file at line \(line + 1):
              golden: \(want)
              actual: \(got)
            If the change is intended, re-record with RECORD_SNAPSHOTS=1 and review the diff.
            """, sourceLocation: sourceLocation)
    }
}
