import Foundation
import Qcow2Geometry
import Testing

@testable import BenchSpec

@Suite("Default and bundled matrices")
struct DefaultMatrixTests {
    /// `Benchmarks/` at the package root, found from this file's path.
    static let benchmarks: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // BenchSpecTests/<file>, Tests
        return parts.joined(separator: "/") + "/Benchmarks"
    }()

    @Test func embeddedTextEqualsBenchmarksDefaultToml() throws {
        let onDisk = try readFile(Self.benchmarks + "/default.toml")
        #expect(
            DefaultMatrix.toml == onDisk,
            "Sources/BenchSpec/DefaultMatrix.swift is out of date: paste Benchmarks/default.toml into it")
    }

    @Test func embeddedDefaultParses() throws {
        let m = try Matrix.parse(toml: DefaultMatrix.toml, source: "<embedded default>")
        #expect(m == Matrix.embeddedDefault)
        #expect(m.source == "<embedded default>")
        #expect(m.name == "default")
        #expect(m.hash == (try Matrix.load(path: Self.benchmarks + "/default.toml")).hash)
    }

    @Test func defaultSweepsL2CoverageUpToFull() throws {
        let m = Matrix.embeddedDefault
        let cells = m.cells()
        #expect(cells.map(\.kind) == [.null] + Array(repeating: .qcow2, count: 5))
        let coverage = cells.compactMap { $0.effectiveCache?.l2CoveragePercent }
        #expect(coverage == [6.25, 25, 50, 100, 100])
        #expect(Set(cells.map(\.id)).count == cells.count)
    }

    @Test func defaultFitsItsTimeBudget() {
        // Paired blocks in one shared guest, adaptive to a 5% CI target but
        // bounded by a 5 minute budget: with boot and image preparation the
        // contract is at most 6 minutes.
        let m = Matrix.embeddedDefault
        #expect(m.pairing.targetCI == 0.05)
        #expect((m.pairing.budget?.seconds ?? .infinity) <= 5 * 60)
        #expect(m.cells().allSatisfy { Isolation.sharingObstacle($0) == nil })
    }

    @Test func smokeMatrixIsSmallAndContrasting() throws {
        let m = try Matrix.load(path: Self.benchmarks + "/smoke.toml")
        #expect(m.name == "smoke")
        let cells = m.cells()
        #expect(cells.count == 2)
        #expect(cells.allSatisfy { $0.kind == .qcow2 && $0.geometry.diskSize == .gib(1) })
        #expect(cells.compactMap { $0.effectiveCache?.l2CoveragePercent } == [12.5, 100])
        #expect(m.repetitions == 2)
        #expect(m.estimatedSeconds() <= 60)
    }

    @Test func everyBundledMatrixParses() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.benchmarks).filter { $0.hasSuffix(".toml") }
        #expect(names.count >= 5)
        for name in names {
            _ = try Matrix.load(path: Self.benchmarks + "/" + name)
        }
    }

    @Test func defaultHashIsThatOfTheCommittedReferenceRun() {
        // The 1 s windows changed the hash; adding an axis left at its
        // default must not.
        #expect(Matrix.embeddedDefault.hash == "dbe6ef6579fe2299")
    }

    @Test func cacheSizeMatrixSweepsLibvirtsOnlyKnob() throws {
        let m = try Matrix.load(path: Self.benchmarks + "/cache-size.toml")
        let cells = m.cells().filter { $0.kind == .qcow2 }
        #expect(cells.compactMap { $0.effectiveCache?.l2CoveragePercent } == [12.5, 37.5, 62.5, 100, 100])
        #expect(cells.compactMap { $0.effectiveCache?.refcountCacheBytes } == Array(repeating: .kib(256), count: 5))
    }
}
