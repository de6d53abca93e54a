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
    /// `stolen(block, guest)` is the share of the window the host stole
    /// from that guest: its IOPS fall by it and so does QEMU's CPU time,
    /// as they do under steal, so writes per CPU millisecond keep the build's
    /// cost.
    static func run(blocks: Int = 8, factor: [String: Double], stolen: (Int, Int) -> Double = { _, _ in 0 }) -> ResultSet {
        var records: [RunRecord] = []
        for b in 1...blocks {
            let drift = 1 + 0.25 * sin(Double(b) * 1.3)
            for (build, guest) in [("base", 0), ("patched", 1)] {
                for (d, cell) in [small, full, null].enumerated() {
                    var c = cell
                    c.build = build
                    let noise = 1 + 0.02 * sin(Double(b * 7 + d * 3 + guest))
                    let f = build == "patched" ? factor[cell.baseID] ?? 1 : 1
                    let kept = 1 - stolen(b, guest)
                    var r = PairedRatioTests.slot(
                        c, block: b, disk: d, iops: 10000 * Double(d + 1) * drift * noise * f * kept, cpuMillis: 1000 * drift * kept)
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

    /// Guests booted minutes apart see different steal, so the per-block IOPS
    /// ratio is noisy; the build's costlier write shows in every block's CPU
    /// time, and the CPU ratio gates it.
    @Test func aCostlierWriteUnderStealIsCaughtByTheCPURatio() throws {
        let factors = [Self.small.baseID: 0.9, Self.full.baseID: 0.9, Self.null.baseID: 0.9]
        let stolen: (Int, Int) -> Double = { b, g in 0.2 + 0.2 * sin(Double(b * 5 + g * 11)) }
        let c = try compareBuilds(Self.run(factor: factors, stolen: stolen), base: "base", compared: "patched", source: "r")
        #expect(c.regressions.count == 3, "\(c.cells.map { ($0.cellID, $0.verdict) })")
        for cell in c.cells {
            let iops = try #require(cell.pairedRatio), cpu = try #require(cell.cpuRatio)
            #expect(cpu.metric == .cpuRatio && cpu.test == .pairedT && cpu.verdict == .regression, "\(cell.cellID): \(cpu)")
            #expect(abs((cpu.changePercent ?? 0) + 10) < 1, "\(cpu)")
            #expect(iops.verdict != .regression, "steal hides it from the IOPS ratio: \(iops)")
        }
        let same = try compareBuilds(Self.run(factor: [:], stolen: stolen), base: "base", compared: "patched", source: "r")
        #expect(!same.hasRegression, "A/A under the same steal: \(same.cells.map { ($0.cellID, $0.verdict) })")
        let md = comparisonMarkdown(c)
        #expect(md.contains("*CPU ratio* pairs writes per QEMU CPU millisecond"), "\(md)")
        let report = BuildComparison(records: Self.run(factor: factors, stolen: stolen).records)
        let ratio = try #require(report.cpuRatios["patched"]?[Self.small.baseID])
        #expect(abs(ratio.ratio - 0.9) < 0.01 && ratio.high < 1, "\(ratio)")
    }

    /// The native driver spins while it waits, so QEMU's vCPU thread is
    /// busy whether or not there is work: the CPU per write counts the
    /// vCPU's time less its waiting share. A build that slows a cell's
    /// vCPU work where the driver has time to spare shows in the CPU
    /// ratio (its wait shrinks), not in the IOPS.
    @Test func aSpinningDriversWaitIsNotCountedAsWork() throws {
        var r = PairedRatioTests.slot(Self.small, block: 1, disk: 0, iops: 1000, cpuMillis: 3000)
        r.slot?.host?.qemuIothreadMillis = 600
        r.slot?.waitMillis = 1500  // half of the 3 s window
        #expect(r.vcpuWaitMillis == 1500 && r.qemuWorkMillis == 2100)
        #expect(r.writesPerQemuCPUMillisecond == 3000.0 / 2100)
        var slower = r
        slower.slot?.waitMillis = 750  // the same writes, a quarter of the window waiting
        #expect(try #require(slower.writesPerQemuCPUMillisecond) < 0.8 * (r.writesPerQemuCPUMillisecond ?? 0))
        var old = r
        old.slot?.waitMillis = nil  // a driver that halted when it waited
        #expect(old.qemuWorkMillis == 3600 && old.vcpuWaitMillis == nil)
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
