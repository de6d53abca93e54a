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

    @Test func aDriverAtItsOwnCeilingIsNamed() {
        // fio: null-co 4.1k, and its full-coverage qcow2 cell 4.4k: at its ceiling.
        let c = Self.calibration(
            fio: [[4000, 4100, 4200], [3400, 3500, 3600], [3800, 3850, 3900], [4300, 4400, 4500]],
            native: [[20000, 21000, 20500], [4500, 4600, 4550], [6000, 6200, 6100], [7500, 7600, 7400]])
        let text = c.ceilingText().joined(separator: "\n")
        #expect(text.contains("fio: 0.85  0.94  1.07;  bound by its own ceiling"))
        #expect(text.contains("native: 0.22  0.30  0.37;  below its ceiling (20500 IOPS) everywhere"))
        // The sweep itself ignores the null-co disk.
        let sweep = c.sweepText().joined(separator: "\n")
        #expect(sweep.contains("native: 0.61  0.81  1.00"))
        #expect(sweep.contains("direction and knee: not comparable, fio is bound by its own ceiling"), "\(sweep)")
    }

    @Test func stepsWithinNoiseHaveNoDirection() {
        // Both below their ceilings; fio's second step is within noise.
        let c = Self.calibration(
            fio: [[40000, 41000, 42000], [3400, 3500, 3600], [5000, 5100, 5200], [5100, 5000, 5300]],
            native: [[60000, 61000, 60500], [4500, 4600, 4550], [6000, 6200, 6100], [7500, 7600, 7400]])
        #expect(c.sweepText().joined(separator: "\n").contains("direction: agrees within noise (no step goes opposite ways);  knee: differs"), "fio reaches its best at mid")
        let opposite = Self.calibration(
            fio: [[40000, 41000, 42000], [6000, 6100, 6200], [5000, 5100, 5200], [4000, 4100, 4000]],
            native: [[60000, 61000, 60500], [4500, 4600, 4550], [6000, 6200, 6100], [7500, 7600, 7400]])
        let text = opposite.sweepText().joined(separator: "\n")
        #expect(text.contains("direction: differs (a step goes opposite ways);  knee: differs"), "\(text)")
    }
}
