import Foundation
import Testing

@testable import Reporting

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Golden-file tests of the report files built from `Fixture`; see
/// `Snapshot` for where the files live and how to re-record them
/// (`RECORD_SNAPSHOTS=1`).
@Suite("Report snapshots")
struct SnapshotTests {
    @Test func cellsCSVSnapshot() throws { try Snapshot.check(cellsCSV(Fixture.set), named: "cells.csv") }
    @Test func runsCSVSnapshot() throws { try Snapshot.check(runsCSV(Fixture.set), named: "runs.csv") }
    @Test func reportSnapshot() throws {
        try Snapshot.check(markdownReport(Fixture.set, plotFile: "coverage.svg"), named: "report.md")
    }
    @Test func svgSnapshot() throws { try Snapshot.check(coverageSVG(Fixture.set), named: "coverage.svg") }

    @Test("the same records in any order give the same bytes")
    func deterministic() {
        let shuffled = ResultSet(records: Fixture.records.reversed())
        #expect(cellsCSV(shuffled) == cellsCSV(Fixture.set))
        #expect(markdownReport(shuffled) == markdownReport(Fixture.set))
        #expect(coverageSVG(shuffled) == coverageSVG(Fixture.set))
    }

    @Test("the SVG is well-formed XML with size, viewBox and escaped text")
    func svgIsXML() throws {
        let svg = coverageSVG(Fixture.set)
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.contains("viewBox=\"0 0 980 600\"") && svg.contains("font-family=\"sans-serif\""))
        // A matrix name needing escapes must not break the document.
        var records = Fixture.records
        for i in records.indices { records[i].provenance.matrixName = "a<b & \"c\"" }
        let odd = coverageSVG(ResultSet(records: records))
        #expect(XMLParser(data: Data(odd.utf8)).parse())
        #expect(odd.contains("a&lt;b &amp; &quot;c&quot;"))
    }

    @Test("the report names the knee options and the libvirt element")
    func reportContent() {
        let md = markdownReport(Fixture.set, plotFile: "plot.svg")
        #expect(md.hasPrefix("# qcow2 cache benchmark: synthetic\n"))
        #expect(md.contains("![IOPS against effective L2 cache coverage](plot.svg)"))
        #expect(md.contains("-blockdev driver=qcow2,node-name=disk0,file.driver=file,file.filename=IMAGE.qcow2,l2-cache-size=1048576\n"))
        #expect(md.contains("-drive file=IMAGE.qcow2,format=qcow2,if=virtio,l2-cache-size=1048576\n"))
        // 1 MiB of L2 plus 4 x 64 KiB clusters for the refcount cache.
        #expect(md.contains("<max_size unit='bytes'>1310720</max_size>"))
        #expect(md.contains("l2-cache-entry-size=65536"))
        #expect(md.contains("Kernel panic - not syncing"))
        #expect(!md.contains("**Warning:**"))
    }

    @Test("the report warns when records disagree on the environment")
    func disagreement() {
        var records = Fixture.records
        records[0].provenance.qemuVersion = "8.2.0"
        let md = markdownReport(ResultSet(records: records))
        #expect(md.contains("**Warning:** the records disagree on QEMU version."))
        #expect(md.contains("8.2.0 (1 runs); 7.2.0 (\(records.count - 1) runs)"))
    }
}
