import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Qcow2Geometry
import Testing

@testable import Reporting

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The committed reference directories (`results/*`), read in place.
enum CommittedResults {
    static let names = ["reference", "knobs", "clean-interval", "cache-size"]

    static func set(_ name: String) throws -> ResultSet {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return ResultSet(records: try ResultsLog.read(path: root.appendingPathComponent("results/\(name)/results.jsonl").path))
    }
}

/// Every figure a report links renders in librsvg (what GitHub and most
/// viewers use is stricter than an XML parser) at a size one can read.
@Suite("Figures")
struct FigureTests {
    /// Width and height from a PNG's IHDR chunk.
    static func pngSize(_ data: Data) -> (Int, Int)? {
        let b = [UInt8](data)
        guard b.count > 24, b[1] == 0x50, b[2] == 0x4E, b[3] == 0x47 else { return nil }
        func be(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (be(16), be(20))
    }

    static func render(_ svg: String, name: String) throws -> (Int, Int)? {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qcb-figures-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent(name)
        let output = dir.appendingPathComponent(name + ".png")
        try Data(svg.utf8).write(to: input)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["rsvg-convert", "-w", "1200", input.path, "-o", output.path]
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let png = FileManager.default.contents(atPath: output.path) else { return nil }
        return pngSize(png)
    }

    static let rsvgInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/rsvg-convert")

    @Test(
        "every SVG of the fixture and of the committed references renders in rsvg-convert at 1200 px",
        arguments: ["fixture"] + CommittedResults.names)
    func rendersInLibrsvg(_ source: String) throws {
        try #require(Self.rsvgInstalled, "rsvg-convert is missing: scripts/setup installs it (Debian's librsvg2-bin)")
        let set = source == "fixture" ? Fixture.set : try CommittedResults.set(source)
        let svgs = reportFiles(set).filter { $0.name.hasSuffix(".svg") }
        #expect(!svgs.isEmpty)
        for f in svgs {
            #expect(XMLParser(data: Data(f.text.utf8)).parse(), "\(source)/\(f.name) is not well-formed XML")
            let size = try Self.render(f.text, name: f.name)
            #expect(size?.0 == 1200, "\(source)/\(f.name) did not render")
            #expect((size?.1 ?? 0) >= 200, "\(source)/\(f.name) rendered only \(size.map { "\($0.0)x\($0.1)" } ?? "nothing")")
        }
    }

    @Test("the report links exactly the figures reportFiles writes")
    func linkedFiguresExist() throws {
        for set in try [Fixture.set] + CommittedResults.names.map(CommittedResults.set) {
            let files = reportFiles(set)
            let md = files.first { $0.name == "report.md" }?.text ?? ""
            for f in files where f.name.hasSuffix(".svg") && f.name != "coverage.svg" {
                #expect(md.contains("](\(f.name))"), "\(f.name) is written but not linked")
            }
            #expect(Set(files.map(\.name)).count == files.count)
        }
    }

    @Test("the knobs references: a verdict and a figure per knob, no knee or recommendation for single points")
    func knobsReport() throws {
        let set = try CommittedResults.set("knobs")
        let names = reportFiles(set).map(\.name)
        #expect(names.contains("refcount-cache.svg") && names.contains("entry-size.svg") && names.contains("image-state.svg"))
        let md = markdownReport(set)
        #expect(!md.contains("**Knee**") && !md.contains("**Apply it**") && !md.contains("libvirt note"))
        #expect(md.contains("## Refcount cache size:") && md.contains("## L2 cache entry size:"))
        // Paired where the cells shared a guest (entry size, fresh), Welch for snapshot.
        #expect(md.contains("Ratios are paired: geometric mean of the per-block IOPS ratios"))
        #expect(md.contains("Welch t interval on the difference of mean log IOPS"))
        #expect(md.contains("| 64K | 64K (16 entries) | 5,405 ± 716 (n=8) | **-45%** (CI -52% to -36%) |"))
        let top = md.components(separatedBy: "## Appendix").first ?? ""
        #expect(!top.contains("qemu-system-x86_64") && !top.contains("| Property | Value |"))

        let clean = try CommittedResults.set("clean-interval")
        let cleanMD = markdownReport(clean)
        #expect(cleanMD.contains("## Cache clean interval:"))
        #expect(cleanMD.contains("QEMU gave back 22.2 MiB during the 10 s idle phase"))
        #expect(reportFiles(clean).first { $0.name == "clean-interval.svg" }?.text.contains("QEMU RSS (MiB)") == true)
    }

    @Test("the default reference: sweep, verdicts, one recommendation, misses figure; paired ratios as before")
    func referenceReport() throws {
        let set = try CommittedResults.set("reference")
        let md = markdownReport(set)
        #expect(md.components(separatedBy: "**Apply it**").count == 2)
        #expect(md.contains("![L2 cache misses per write against coverage, measured and modelled](misses.svg)"))
        #expect(md.contains("| L2 128K | 128 KiB (4 KiB entries) | 6.25% |"))
        let top = md.components(separatedBy: "## Appendix").first ?? ""
        #expect(top.split(separator: "\n").count < 70, "the top fits about two screens")
        // The sweep table's paired ratios are PairedAnalysis's.
        for (id, r) in set.paired.vsReference {
            let mine = CellRatio.of(id, over: r.referenceCellID, in: set.records)
            #expect(mine?.method == .paired)
            #expect(abs((mine?.ratio ?? 0) - r.ratio) < 1e-12 && abs((mine?.low ?? 0) - r.low) < 1e-12)
        }
    }
}

@Suite("Knob verdicts")
struct KnobVerdictTests {
    @Test("Welch interval on log values: equal n and variances give df = 2n - 2")
    func welch() throws {
        let r = try #require(CellRatio.welch([1, 2, 3], [0, 1, 2]))
        let half = 2.7764 * (2.0 / 3).squareRoot()
        #expect(abs(r.ratio - exp(1)) < 1e-12)
        #expect(abs(log(r.low) - (1 - half)) < 1e-9 && abs(log(r.high) - (1 + half)) < 1e-9)
        #expect(r.method == .welch && r.n == 3)
        #expect(CellRatio.welch([1], [0, 1]) == nil, "one run gives no interval")
    }

    @Test func verdictsSayWhatTheCIAllows() {
        #expect(
            verdictText(CellRatio(ratio: 1.04, low: 0.97, high: 1.11, method: .paired, n: 8))
                == "no difference detected (ratio 1.04, CI 0.97–1.11)")
        #expect(verdictText(CellRatio(ratio: 1.12, low: 1.08, high: 1.16, method: .paired, n: 8)) == "**+12%** (CI 8–16%)")
        #expect(verdictText(CellRatio(ratio: 0.82, low: 0.75, high: 0.90, method: .welch, n: 3)) == "**-18%** (CI -25% to -10%)")
        #expect(verdictText(nil) == "too few runs for an interval")
    }

    @Test("labels leave out the value most cells share")
    func shortLabels() {
        func cell(_ state: ImageState, rc: Setting<ByteSize> = .default, l2: ByteSize = .mib(8)) -> Cell {
            Cell(
                kind: .qcow2, state: state, geometry: ImageGeometry(diskSize: .gib(64), clusterSize: .kib(64)),
                cache: CacheConfig(l2CacheSize: .value(l2), refcountCacheSize: rc))
        }
        let cells = [
            cell(.fresh), cell(.fresh, rc: .value(.mib(4))), cell(.snapshot), cell(.snapshot, rc: .value(.mib(4))),
            cell(.preallocated, l2: .mib(1)),
        ]
        let labels = CellLabels(cells: cells)
        #expect(labels.label(cells[3].id) == "snapshot · refcount 4M")
        #expect(labels.label(cells[0].id) == "fresh")
        #expect(labels.label(cells[4].id) == "preallocated · L2 1M")
        #expect(Set(cells.map { labels.label($0.id) }).count == cells.count)
    }

    /// `bench calibrate`'s runs differ only in disk and driver.
    @Test func driverLabels() {
        func driven(_ c: Cell, _ d: GuestDriver) -> Cell {
            var c = c
            c.workload.driver = d
            return c
        }
        let g = ImageGeometry(diskSize: .gib(16))
        let null = Cell(kind: .null, geometry: g)
        let full = Cell(kind: .qcow2, state: .preallocated, geometry: g)
        let small = Cell(kind: .qcow2, state: .preallocated, geometry: g, cache: CacheConfig(l2CacheSize: .value(.kib(128))))
        let sweep = [null, small, full].flatMap { [driven($0, .native), driven($0, .fio)] }
        let labels = CellLabels(cells: sweep)
        #expect(sweep.map { labels.label($0.id) } == ["null-co · native", "null-co · fio", "L2 128K · native", "L2 128K · fio", "L2 default · native", "L2 default · fio"])
        let two = [null, full].flatMap { [driven($0, .native), driven($0, .fio)] }
        let short = CellLabels(cells: two)
        #expect(two.map { short.label($0.id) } == ["null-co · native", "null-co · fio", "qcow2 · native", "qcow2 · fio"])
    }
}
