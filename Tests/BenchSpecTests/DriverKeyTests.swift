import Foundation
import GuestWire
import Qcow2Geometry
import Testing

@testable import BenchSpec

/// `[workload] driver`: parsing, messages, and that native matrices, cells
/// and records are exactly what they were before the key existed.
@Suite("Workload driver key")
struct DriverKeyTests {
    @Test func fioDriverReachesEveryCellAndTheGuestSpec() throws {
        let m = try Fixtures.parse(
            """
            [workload]
            driver = "fio"
            [reference]
            null = true
            """)
        #expect(m.workload.driver == .fio)
        let cells = m.cells()
        #expect(!cells.isEmpty)
        #expect(cells.allSatisfy { $0.workload.driver == .fio && $0.id.hasSuffix("-fio") })
        let spec = try #require(cells.first).workload.guestSpec(diskSize: .gib(1), seed: 3)
        #expect(spec.driver == .fio)
        #expect(spec.kernelParameter.hasSuffix(",drv=fio"))
    }

    @Test func nativeIsTheDefaultAndChangesNoIdOrHash() throws {
        let omitted = try Fixtures.parse(Fixtures.minimal)
        let explicit = try Fixtures.parse(Fixtures.minimal + "\n[workload]\ndriver = \"native\"\n")
        let fio = try Fixtures.parse(Fixtures.minimal + "\n[workload]\ndriver = \"fio\"\n")
        #expect(omitted.workload.driver == .native)
        #expect(explicit.hash == omitted.hash)
        #expect(!omitted.canonicalDescription.contains("driver"))
        #expect(fio.hash != omitted.hash)
        #expect(fio.canonicalDescription.contains("workload.driver=fio\n"))

        let cell = Cell(geometry: ImageGeometry(diskSize: .gib(16)))
        #expect(cell.id == "qcow2-preallocated-16G-c64K-l2=default-e=default-rc=default-ci=default-none-native-bs4K-qd32-span100pct")
        var fioCell = cell
        fioCell.workload.driver = .fio
        #expect(fioCell.id == cell.id + "-fio")
    }

    @Test func badValuesAreRefusedWithTheUsualMessage() {
        #expect(
            Fixtures.error("[workload]\ndriver = \"spdk\"")
                == "m.toml: workload.driver: invalid value \"spdk\": must be one of native, fio")
        #expect(
            Fixtures.error("[workload]\ndriver = 1")
                == "m.toml: workload.driver: invalid value \"1\": must be a string, not an integer")
        #expect(
            Fixtures.error("[workload]\ndriver = [\"fio\"]")
                == "m.toml: workload.driver: invalid value \"[fio]\": must be a string, not an array")
    }

    @Test func recordsWithoutADriverDecodeAsNative() throws {
        let native = Workload()
        let data = try JSONEncoder().encode(native)
        #expect(!String(decoding: data, as: UTF8.self).contains("driver"))
        #expect(try JSONDecoder().decode(Workload.self, from: data) == native)

        var fio = Workload()
        fio.driver = .fio
        let fioData = try JSONEncoder().encode(fio)
        #expect(String(decoding: fioData, as: UTF8.self).contains("\"driver\":\"fio\""))
        #expect(try JSONDecoder().decode(Workload.self, from: fioData) == fio)
    }
}
