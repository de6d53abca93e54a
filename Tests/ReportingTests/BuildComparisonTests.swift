import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Qcow2Geometry
import Testing

@testable import Reporting

/// `bench compare DIR --builds`: two builds of one run, paired block by block.
@Suite("Compare across QEMU builds")
struct BuildComparisonTests {
    static let small = Fixture.qcow2(l2: .value(.kib(128)))
    static let full = Fixture.qcow2(l2: .value(.mib(2)))
    static let null = Cell(kind: .null, geometry: ImageGeometry(diskSize: Fixture.disk))

    /// One run of two builds over `blocks` blocks. The block's drift moves
    /// both builds alike (they ran in the same block); `factor` is the
    /// compared build's IOPS over the base's, per cell base ID.
    static func run(blocks: Int = 8, factor: [String: Double]) -> ResultSet {
        var records: [RunRecord] = []
        for b in 1...blocks {
            let drift = 1 + 0.25 * sin(Double(b) * 1.3)
            for (build, guest) in [("base", 0), ("patched", 1)] {
                for (d, cell) in [small, full, null].enumerated() {
                    var c = cell
                    c.build = build
                    let noise = 1 + 0.02 * sin(Double(b * 7 + d * 3 + guest))
                    let f = build == "patched" ? factor[cell.baseID] ?? 1 : 1
                    var r = PairedRatioTests.slot(c, block: b, disk: d, iops: 10000 * Double(d + 1) * drift * noise * f)
                    r.sequence = b * 100 + guest * 10 + d
                    records.append(r)
                }
            }
        }
        return ResultSet(records: records)
    }

    @Test func sameBuildsPassAndASlowerOneFailsOnEveryCell() throws {
        let same = try compareBuilds(Self.run(factor: [:]), base: "base", compared: "patched", source: "r")
        #expect(!same.hasRegression, "\(same.cells.map { ($0.cellID, $0.verdict) })")
        #expect(same.cells.count == 3)
        #expect(same.cells.allSatisfy { $0.pairedRatio?.metric == .buildRatio && $0.pairedRatio?.test == .pairedT })
        #expect(same.builds == ["base", "patched"])

        let slower = try compareBuilds(
            Self.run(factor: [Self.small.baseID: 0.9, Self.full.baseID: 0.9, Self.null.baseID: 0.9]), base: "base", compared: "patched",
            source: "r")
        #expect(slower.regressions.count == 3, "null-co is gated between builds: \(slower.cells.map { ($0.cellID, $0.verdict) })")
        #expect(slower.ceilingShifts.isEmpty, "between builds a slower null-co is the build's doing, not a moved ceiling")
        let r = try #require(slower.cells.first { $0.cellID == Self.small.baseID }?.pairedRatio)
        #expect(abs((r.changePercent ?? 0) + 10) < 0.5)
        #expect(r.adjustedPValue != nil)
        // 25% block-to-block drift cancels in the pairing; unpaired, it would hide a 10% drop.
        #expect((r.minimumDetectablePercent ?? 99) < 5, "\(r)")
        let iops = try #require(slower.cells.first { $0.cellID == Self.small.baseID }?.iops)
        #expect(!iops.gated && iops.verdict != .regression, "Welch on absolute IOPS cannot see it under the drift")
    }

    @Test func onlyTheAffectedCellRegresses() throws {
        let c = try compareBuilds(Self.run(factor: [Self.small.baseID: 0.8]), base: "base", compared: "patched", source: "r")
        #expect(c.regressions.map(\.cellID) == [Self.small.baseID])
        let md = comparisonMarkdown(c)
        #expect(md.contains("QEMU build `patched` against the base build `base`"))
        #expect(md.contains("(paired t)"))
        #expect(!md.contains("environments differ"))
    }

    @Test func unknownOrEqualBuildsAreRefused() {
        let set = Self.run(blocks: 2, factor: [:])
        #expect(throws: BuildComparisonError.unknown(name: "other", ran: ["base", "patched"])) {
            try compareBuilds(set, base: "base", compared: "other", source: "r")
        }
        #expect(throws: BuildComparisonError.same(name: "base")) { try compareBuilds(set, base: "base", compared: "base", source: "r") }
        #expect(
            BuildComparisonError.unknown(name: "other", ran: ["base"]).description
                == "--builds: invalid value \"other\": no record of that build; these results ran base")
    }

    /// Two nights, one build each under different names: matched without
    /// the build name, and the build shows as an environment difference.
    @Test func oneBuildPerSideMatchesByConfiguration() throws {
        let both = Self.run(blocks: 4, factor: [:])
        let b = both.records(ofBuild: "base")
        let p = both.records(ofBuild: "patched")
        #expect(Set(b.cells.map(\.cellID)) == Set([Self.small, Self.full, Self.null].map(\.baseID)))
        #expect(b.buildNames == [QemuBuildName.system] && p.buildNames == [QemuBuildName.system])
        #expect(both.buildNames == ["base", "patched"])
        #expect(both.withoutBuilds.cells.count == 3)
    }
}
