import ArgumentParser
import BenchResults
import BenchSpec
import Foundation
import Orchestrator
import Qcow2Geometry
import Reporting

/// `bench advise`: the smallest cache that maps a whole image under QEMU's
/// rules, as QEMU options and libvirt XML; with a memory budget, what it
/// buys. Pure arithmetic (`CacheAdvice`), plus a fit over measured results.
struct AdviseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advise",
        abstract: "Print the smallest qcow2 cache that covers a whole image, as -blockdev options and libvirt XML.",
        discussion: """
            The L2 need is ROUND_UP(ceil(disk / cluster) * 8, cluster) bytes (16 per entry with --extended-l2); \
            QEMU raises the L2 cache to 2 entries and the refcount cache to 4 clusters, and by default caps the \
            L2 cache at 32 MiB. With --memory-budget (the total for --vms VMs), each VM's share is read as \
            libvirt's max_size and the coverage it buys is shown; --from DIR adds the IOPS fraction expected \
            there, relative to full coverage: from DIR's fitted cost model (time per write = t0 + misses per \
            write x t_miss, misses per write = 1 - coverage; QEMU's cache trace, as bench report shows it) with \
            a 95% CI, or, for results without the trace, linearly between the coverages measured in DIR.
            """)

    @Option(help: "Virtual disk size, e.g. 100G.") var diskSize: String
    @Option(help: "qcow2 cluster size (512 to 2M, power of two).") var clusterSize = "64K"
    @Flag(help: "The image uses extended_l2=on (16-byte L2 entries).") var extendedL2 = false
    @Option(help: "Number of VMs with such an image.") var vms = 1
    @Option(help: ArgumentHelp("Memory for all VMs' caches together, e.g. 64M.", valueName: "size")) var memoryBudget: String?
    @Option(
        name: .customLong("from"),
        help: ArgumentHelp("Results directory whose measurements estimate IOPS at the budget's coverage.", valueName: "dir"))
    var resultsDirectory: String?
    @Flag(help: "Print JSON (sorted keys) instead of text.") var json = false

    func advice() throws -> CacheAdvice {
        try parsed { () throws(InvalidValue) in
            let geometry = ImageGeometry(
                diskSize: try ByteSize(parsing: diskSize, field: "--disk-size"),
                clusterSize: try ByteSize(parsing: clusterSize, field: "--cluster-size"),
                extendedL2: extendedL2)
            let budget = try memoryBudget.map { (b: String) throws(InvalidValue) -> ByteSize in
                try ByteSize(parsing: b, field: "--memory-budget")
            }
            return try CacheAdvice(geometry: geometry, vms: vms, memoryBudget: budget)
        }
    }

    func validate() throws {
        _ = try advice()
        if resultsDirectory != nil, memoryBudget == nil {
            throw ValidationError("--from: invalid value \"\(resultsDirectory ?? "")\": only used with --memory-budget")
        }
    }

    func run() async throws {
        var advice = try advice()
        if let dir = resultsDirectory, var budget = advice.budget {
            let records = try ResultsInput.records(dir)
            if let (model, f) = Self.costModel(records, coveragePercent: budget.coveragePercent) {
                budget.expectedIOPSFraction = f.fraction
                budget.expectedIOPSFractionCI95 = [f.low, f.high]
                budget.extrapolated = false
                budget.expectedIOPSBasis =
                    "cost model of \(model.series.label): t0 \(String(format: "%.1f", model.t0Micros)) µs + \(String(format: "%.1f", model.tMissMicros)) µs per L2 miss, \(model.fit.points) traced slots"
            } else {
                let fit = try Self.fit(from: dir, records: records)
                let (fraction, extrapolated) = fit.fraction(atCoverage: budget.coveragePercent)
                budget.expectedIOPSFraction = fraction
                budget.extrapolated = extrapolated
                budget.expectedIOPSBasis = "linear between measured coverages (no cache trace in the records)"
            }
            advice.budget = budget
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let data: Data
            do { data = try encoder.encode(advice) } catch { throw fail("encoding the advice: \(error)", code: 1) }
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(Self.text(advice), terminator: "")
        }
    }

    /// Successful qcow2 runs of `dir`, as (cell, coverage, IOPS); bad input
    /// (exit 2) when they cannot give a curve.
    /// The cost model with the most traced slots among `records`' series,
    /// and the IOPS fraction it predicts at the coverage; nil when no series
    /// was traced at two or more coverages.
    static func costModel(_ records: [RunRecord], coveragePercent: Double) -> (CostModel, (fraction: Double, low: Double, high: Double))? {
        let models = costModels(ResultSet(records: records)).sorted { $0.fit.points > $1.fit.points }
        for m in models {
            if let f = m.fractionOfFullCoverage(coverage: coveragePercent / 100) { return (m, f) }
        }
        return nil
    }

    static func fit(from dir: String, records: [RunRecord]) throws -> CoverageFit {
        let samples = records.compactMap { r -> CoverageFit.Sample? in
            guard r.status == .ok, r.cell.kind == .qcow2, let e = r.effective, let result = r.result else { return nil }
            return CoverageFit.Sample(cellID: r.cellID, coveragePercent: e.l2CoveragePercent, iops: result.iops)
        }
        guard let fit = CoverageFit(samples: samples) else {
            throw fail(
                "--from: invalid value \"\(dir)\": needs successful qcow2 runs at two or more L2 coverages (found \(samples.count) runs)",
                code: 2)
        }
        return fit
    }

    static func text(_ a: CacheAdvice) -> String {
        let g = a.geometry
        func pct(_ v: Double) -> String { String(format: "%.2f%%", v) }
        var out = """
            image: \(g.diskSize.humanReadable) (\(g.diskSize.bytes) bytes), \(g.clusterSize) clusters\(g.extendedL2 ? ", extended L2 (16-byte entries)" : "")
            L2 tables for the whole image: \(a.l2Need.bytes) bytes (\(a.l2Need.humanReadable))
            QEMU default (no option): \(a.defaultL2CacheBytes.humanReadable) of L2 cache, covers \(pct(a.defaultCoveragePercent))

            -blockdev / -drive:   \(a.blockdevOption)
            libvirt (>= 7.0):     \(a.libvirtMetadataCacheXML)
            libvirt 2017 patch:   \(a.libvirtPerCacheXML)

            memory per VM: \(a.memoryPerVM.bytes) bytes (\(a.memoryPerVM.humanReadable): L2 plus \(a.refcountCacheSize.humanReadable) refcount cache)

            """
        if a.defaultCoveragePercent < 100 {
            out +=
                "note: QEMU's default L2 cache is capped at \(QemuCacheModel.defaultL2CacheMax.humanReadable) on Linux; pass the option for full coverage\n"
        }
        out += "any larger l2-cache-size or max_size behaves the same: QEMU never gives the L2 cache more than the image needs\n"
        if a.l2CacheSize != a.l2Need {
            out += "note: QEMU keeps at least 2 L2 entries, so the L2 cache is \(a.l2CacheSize.humanReadable), not \(a.l2Need.humanReadable)\n"
        }
        if a.vms > 1 {
            out += "\(a.vms) VMs: \(a.totalMemory.bytes) bytes (\(a.totalMemory.humanReadable))\n"
        }
        if let b = a.budget {
            out += "budget \(b.budget.humanReadable)\(a.vms > 1 ? " for \(a.vms) VMs (\(b.perVM.humanReadable) each)" : ""): "
            out += "L2 \(b.l2CacheBytes.humanReadable) (entries of \(b.l2EntrySize.humanReadable)) + refcount \(b.refcountCacheBytes.humanReadable), "
            out += "covers \(pct(b.coveragePercent)) of the disk (\(b.coveredBytes) bytes)\n"
            if let f = b.expectedIOPSFraction {
                if let ci = b.expectedIOPSFractionCI95, ci.count == 2 {
                    out += "expected IOPS: \(String(format: "%.0f%%", f * 100)) of full coverage (95% CI \(String(format: "%.0f", ci[0] * 100))–\(String(format: "%.0f%%", ci[1] * 100)))"
                    out += "\n  from the \(b.expectedIOPSBasis ?? "cost model")\n"
                } else {
                    out += "expected IOPS: \(String(format: "%.0f%%", f * 100)) of the best measured coverage"
                    out += b.extrapolated == true ? " (outside the measured coverages: nearest point)\n" : " (linear between measured coverages)\n"
                }
            }
        }
        return out
    }
}
