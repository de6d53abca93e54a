import Foundation
import BenchResults
import BenchSpec
import GuestWire
import Qcow2Geometry
import Testing

@testable import bench

@Suite("Calibration text")
struct CalibrationTextTests {
    static func records(_ cell: Cell, _ driver: GuestDriver, _ iops: [Double]) -> [RunRecord] {
        var c = cell
        c.workload.driver = driver
        return SyntheticResults.records([(c, iops)])
    }

    static func calibration(fio: [[Double]], native: [[Double]]) -> Calibration {
        let w = Workload()
        let g = ImageGeometry(diskSize: .gib(16))
        let disks = [Cell(kind: .null, geometry: g, workload: w)]
            + [Setting.value(ByteSize.kib(128)), .value(.mib(1)), .default].map {
                Cell(kind: .qcow2, state: .preallocated, geometry: g, cache: CacheConfig(l2CacheSize: $0), workload: w)
            }
        var records: [RunRecord] = []
        for (i, d) in disks.enumerated() {
            records += Self.records(d, .native, native[i])
            records += Self.records(d, .fio, fio[i])
        }
        return Calibration(disks: disks, records: records, workload: w, runs: 3, accel: "tcg", sweep: true)
    }

    /// fio: null-co 4.1k, and its full-coverage qcow2 cell 4.4k: at its
    /// ceiling; native well below its own.
    static func fioAtItsCeiling() -> Calibration {
        calibration(
            fio: [[4000, 4100, 4200], [3400, 3500, 3600], [3800, 3850, 3900], [4300, 4400, 4500]],
            native: [[20000, 21000, 20500], [4500, 4600, 4550], [6000, 6200, 6100], [7500, 7600, 7400]])
    }

    @Test func aDriverAtItsOwnCeilingIsNamed() {
        // fio: null-co 4.1k, and its full-coverage qcow2 cell 4.4k: at its ceiling.
        let c = Self.fioAtItsCeiling()
        let text = c.ceilingText().joined(separator: "\n")
        #expect(text.contains("fio: 0.85  0.94  1.07;  bound by its own ceiling"))
        #expect(text.contains("native: 0.22  0.30  0.37;  below its ceiling (20500 IOPS) everywhere"))
        // The sweep itself ignores the null-co disk.
        let sweep = c.sweepText().joined(separator: "\n")
        #expect(sweep.contains("native: 0.61  0.81  1.00"))
        #expect(sweep.contains("direction and knee: not comparable, fio is bound by its own ceiling"), "\(sweep)")
    }

    /// Gives every record of `driver` on disk `index` (0 null-co, then
    /// 128K, 1M, default) `perWrite` interrupts per write.
    static func withInterrupts(_ c: Calibration, _ driver: GuestDriver, _ perWrite: [Double]) -> Calibration {
        var c = c
        for i in c.records.indices {
            let r = c.records[i]
            guard r.cell.workload.driver == driver, let d = c.disks.firstIndex(where: { $0.kind == r.cell.kind && $0.cache == r.cell.cache }),
                let ops = r.result?.ops
            else { continue }
            var slot = SlotInfo(guest: 1, group: 1, block: r.repetition, position: 0, disk: "d\(d)", warmupMillis: 200, settled: true)
            slot.interrupts = UInt64((perWrite[d] * Double(ops)).rounded())
            c.records[i].slot = slot
        }
        return c
    }

    @Test func aDriverWokenForEveryWriteOnNullCoHasNoCeilingThere() {
        // fio as measured here: 0.77 interrupts per write on null-co, about 0.3 on qcow2.
        let c = Self.withInterrupts(Self.withInterrupts(Self.fioAtItsCeiling(), .fio, [0.77, 0.33, 0.27, 0.32]), .native, [0.12, 0.04, 0.05, 0.07])
        let text = c.ceilingText().joined(separator: "\n")
        #expect(text.contains("fio: 0.85  0.94  1.07;  null-co is no ceiling for fio here: it takes 0.77 interrupts per write on null-co against 0.32 on its fastest qcow2 cell"), "\(text)")
        // native takes few everywhere: its verdict is unchanged.
        #expect(text.contains("native: 0.22  0.30  0.37;  below its ceiling (20500 IOPS) everywhere"), "\(text)")
        #expect(c.boundByCeiling(.fio) == nil)
        let sweep = c.sweepText().joined(separator: "\n")
        #expect(!sweep.contains("not comparable"), "\(sweep)")
        #expect(sweep.contains("knee: agrees"), "\(sweep)")
        // The per-driver lines carry the counts.
        #expect(c.text(wallSeconds: nil).contains("; 0.77 interrupts/write"))
    }

    @Test func aFewMoreInterruptsOnNullCoLeaveTheCeilingStanding() {
        // 0.40 against 0.30: 1.3x, under the rule's 1.5x; fio stays bound.
        let c = Self.withInterrupts(Self.fioAtItsCeiling(), .fio, [0.40, 0.33, 0.27, 0.30])
        #expect(c.boundByCeiling(.fio) == true)
        #expect(c.sweepText().joined(separator: "\n").contains("direction and knee: not comparable, fio is bound by its own ceiling"))
    }

    @Test func stepsWithinNoiseHaveNoDirection() {
        // Both below their ceilings; fio's second step is within noise.
        let c = Self.calibration(
            fio: [[40000, 41000, 42000], [3400, 3500, 3600], [5000, 5100, 5200], [5100, 5000, 5300]],
            native: [[60000, 61000, 60500], [4500, 4600, 4550], [6000, 6200, 6100], [7500, 7600, 7400]])
        // fio reaches its best at mid, but its mid and full cells are within
        // noise of each other: its knee is not placed, so no disagreement.
        #expect(
            c.sweepText().joined(separator: "\n").contains(
                "direction: agrees within noise (no step goes opposite ways);  knee: not resolved by fio (its cells from mid on are within noise of each other; native's knee is at full)"))
        let opposite = Self.calibration(
            fio: [[40000, 41000, 42000], [6000, 6100, 6200], [5000, 5100, 5200], [4000, 4100, 4000]],
            native: [[60000, 61000, 60500], [4500, 4600, 4550], [6000, 6200, 6100], [7500, 7600, 7400]])
        let text = opposite.sweepText().joined(separator: "\n")
        #expect(text.contains("direction: differs (a step goes opposite ways);  knee: differs"), "\(text)")
    }

    @Test func anEarlierKneeWithAResolvedStepAfterItDiffers() {
        // fio: low 3.5k, mid 5.1k, full 4.0k (a resolved fall): its knee
        // at mid is placed, and native's is at full.
        #expect(Calibration.kneeText(native: ([1, 1], 2), fio: ([1, -1], 1)) == "differs")
        #expect(Calibration.kneeText(native: ([1, 1], 2), fio: ([1, 0], 1)).hasPrefix("not resolved by fio"))
        #expect(Calibration.kneeText(native: ([0, 0], 0), fio: ([1, 1], 2)).hasPrefix("not resolved by native (its cells from low on"))
    }

    @Test func nativeOverFioIsPairedByRepetition() throws {
        // The machine drifts 2x between repetitions; native is 1.25x fio in
        // each one. Paired, the ratio is exact; unpaired, the drift widens it.
        let drift = [1.0, 2.0, 1.5]
        let c = Self.calibration(
            fio: [drift.map { 4000 * $0 }, drift.map { 4000 * $0 }, drift.map { 5000 * $0 }, drift.map { 6000 * $0 }],
            native: [drift.map { 5000 * $0 }, drift.map { 5000 * $0 }, drift.map { 6250 * $0 }, drift.map { 7500 * $0 }])
        let p = try #require(c.pairedRatio(c.disks[1]))
        #expect(abs(p.ratio - 1.25) < 1e-9 && abs(p.low - 1.25) < 1e-9 && abs(p.high - 1.25) < 1e-9 && p.blocks == 3)
        let text = c.text(wallSeconds: 60)
        #expect(text.contains("native/fio   1.25  (95% CI 1.25 to 1.25; paired by repetition"), "\(text)")
    }

    @Test func aQcow2CellFasterThanNullCoMeansNoCeiling() {
        // fio 1.3x faster on full coverage than on null-co (seen here: fio
        // on null-co is slower than on qcow2).
        let c = Self.calibration(
            fio: [[4000, 4100, 4200], [2400, 2500, 2600], [3800, 3850, 3900], [5300, 5400, 5300]],
            native: [[20000, 21000, 20500], [4500, 4600, 4550], [6000, 6200, 6100], [7500, 7600, 7400]])
        #expect(c.ceilingText().joined(separator: "\n").contains("fio: 0.61  0.94  1.30;  null-co is no ceiling for fio here"))
        #expect(c.boundByCeiling(.fio) == nil && c.boundByCeiling(.native) == false)
        #expect(c.sweepText().joined(separator: "\n").contains("direction: agrees;  knee: agrees"))
    }

    @Test func slotsOfASharedGuestArePairedByBlock() {
        var c = Self.fioAtItsCeiling()
        for i in c.records.indices {
            let fio = c.records[i].cell.workload.driver == .fio
            c.records[i].hostBootMillis = 6000
            c.records[i].slot = SlotInfo(
                guest: 1, group: 1, block: c.records[i].repetition, position: 0, disk: "d0", warmupMillis: fio ? 1000 : 400, settled: !fio)
        }
        c.qemuWallSeconds = 100
        let text = c.text(wallSeconds: 110)
        #expect(text.contains("3 blocks in one guest, each disk once per driver per block in a shuffled order"), "\(text)")
        #expect(text.contains("paired by block, both drivers in the same guest, 3 pairs"))
        #expect(text.contains("1 guest(s); host QEMU start to the guest's hello 6000 ms"), "\(text)")
        #expect(text.contains("native warm-up 400 ms mean per slot (until steady, or the cap); 0 of 12 slots did not end it steady"))
        #expect(text.contains("fio warm-up 1000 ms mean per slot (fixed ramp_time"))
        #expect(text.contains("12 of 12 slots did not end it steady"))
    }

    /// Native loses 2% per point of steal and its slots got 0, 20 and 10%;
    /// fio's got none. At zero steal native/fio is 1.2 in every block.
    @Test func nativeOverFioIsAlsoShownAtZeroSteal() throws {
        let steals = [0.0, 20, 10]
        let fio = [[4000.0, 4000, 4000], [5000, 5000, 5000], [6000, 6000, 6000], [7000, 7000, 7000]]
        let native = fio.map { cell in zip(cell, steals).map { 1.2 * $0 * exp(-0.02 * $1) } }
        var c = Self.calibration(fio: fio, native: native)
        for i in c.records.indices {
            let isFio = c.records[i].cell.workload.driver == .fio
            var slot = SlotInfo(guest: 1, group: 1, block: c.records[i].repetition, position: 0, disk: "d0", warmupMillis: 400, settled: true)
            slot.host = HostNoise(
                seconds: 4, stealPercent: isFio ? 0 : steals[c.records[i].repetition - 1], hostBusyPercent: 50, qemuVcpuMillis: 2000,
                qemuIothreadMillis: 500, qemuMainLoopMillis: 100, qemuOtherMillis: 0)
            c.records[i].slot = slot
        }
        let adjusted = try #require(c.stealAdjustedRatio(c.disks[1]))
        #expect(abs(adjusted.ratio - 1.2) < 1e-9 && abs(adjusted.high - adjusted.low) < 1e-9)
        let measured = try #require(c.pairedRatio(c.disks[1]))
        #expect(measured.high - measured.low > 0.1, "the steal spreads the measured ratio")
        let text = c.text(wallSeconds: 60)
        #expect(text.contains("               1.20  (95% CI 1.20 to 1.20) with every slot taken to zero steal (below)"), "\(text)")
        #expect(text.contains("Host CPU steal (mean"), "\(text)")
    }

    /// A spinning driver keeps its vCPU busy while it waits: the text says
    /// how much of the window was waiting, and saturation is judged on the
    /// rest (busy 99%, of it 40% of the window waiting: working 59%).
    @Test func aSpinningDriversWaitIsNotSaturation() {
        var c = Self.fioAtItsCeiling()
        for i in c.records.indices {
            var slot = SlotInfo(guest: 1, group: 1, block: c.records[i].repetition, position: 0, disk: "d0", warmupMillis: 400, settled: true)
            slot.host = HostNoise(
                seconds: 5, stealPercent: 0, hostBusyPercent: 80, qemuVcpuMillis: 4950, qemuIothreadMillis: 500,
                qemuMainLoopMillis: 100, qemuOtherMillis: 0)
            if c.records[i].cell.workload.driver == .native { slot.waitMillis = 0.4 * 1000 * (c.records[i].result?.seconds ?? 0) }
            c.records[i].slot = slot
        }
        let text = c.text(wallSeconds: 60)
        #expect(text.contains("vCPU 99% busy (40% of the window spinning for completions); I/O thread"), "\(text)")
        #expect(text.contains("vCPU working (busy, not spinning) on the qcow2 cells 59% 59% 59% (0 of 3 saturated)"), "\(text)")
        #expect(text.contains("vCPU busy on the qcow2 cells 99% 99% 99% (3 of 3 saturated)"), "fio's vCPU halts when it waits: \(text)")
    }

    @Test func aSaturatedVcpuIsShownFromTheRecordedHostNoise() {
        var c = Self.fioAtItsCeiling()
        for i in c.records.indices {
            let fio = c.records[i].cell.workload.driver == .fio
            c.records[i].host = HostNoise(
                seconds: 5, stealPercent: 0, hostBusyPercent: 80, qemuVcpuMillis: fio ? 4950 : 3000, qemuIothreadMillis: 500,
                qemuMainLoopMillis: 100, qemuOtherMillis: 0)
        }
        let text = c.text(wallSeconds: 60)
        #expect(text.contains("fio IOPS     3500 ± 248 (7.1%)  sd 100  n=3  vCPU 99% busy (guest CPU saturated); I/O thread 28.6 µs/write"), "\(text)")
        #expect(text.contains("vCPU 60% busy; I/O thread"), "\(text)")
        #expect(text.contains("vCPU busy on the qcow2 cells 99% 99% 99% (3 of 3 saturated)"))
        #expect(text.contains("vCPU busy on the qcow2 cells 60% 60% 60% (0 of 3 saturated)"))
    }
}
