import Foundation
import GuestWire
import Testing

/// `drv=` on the kernel command line and `driver` in the JSON: added without
/// changing what native runs send or what older records contain.
@Suite struct DriverWireTests {
    @Test func fioSpecRoundTrips() throws {
        let spec = WorkloadSpec(
            blockSize: 4096, iodepth: 32, rampMillis: 1000, runtimeMillis: 2000, spanBytes: 1 << 30, seed: 7, device: "vda",
            driver: .fio)
        #expect(spec.kernelParameter == "qcb.spec=v1,bs=4096,qd=32,ramp=1000,rt=2000,span=1073741824,seed=7,dev=vda,drv=fio")
        #expect(try WorkloadSpec(commandLine: "console=ttyS0 quiet \(spec.kernelParameter) rootfstype=ramfs") == spec)
    }

    @Test func nativeTokensAreUnchangedAndOlderTokensDecodeAsNative() throws {
        let older = "qcb.spec=v1,bs=4096,qd=32,ramp=2000,rt=10000,span=0,seed=1,dev=vda"
        let spec = try WorkloadSpec(commandLine: older)
        #expect(spec.driver == .native)
        #expect(spec.kernelParameter == older)
        #expect(try WorkloadSpec(commandLine: older + ",drv=native").driver == .native)
    }

    @Test func unknownDriversAreRefused() {
        #expect(throws: WireError.badSpec("bad drv spdk: expected one of native, fio")) {
            try WorkloadSpec(commandLine: "qcb.spec=v1,bs=4096,qd=1,ramp=0,rt=1,span=0,seed=1,dev=vda,drv=spdk")
        }
    }

    @Test func jsonCarriesTheDriverOnlyWhenNotNative() throws {
        let native = WorkloadSpec()
        let nativeLine = try JSONLine.encode(native)
        #expect(!nativeLine.contains("driver"))
        #expect(try JSONDecoder().decode(WorkloadSpec.self, from: Data(nativeLine.utf8)) == native)

        var fio = native
        fio.driver = .fio
        let fioLine = try JSONLine.encode(fio)
        #expect(fioLine.contains("\"driver\":\"fio\""))
        #expect(try JSONDecoder().decode(WorkloadSpec.self, from: Data(fioLine.utf8)) == fio)

        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(String(decoding: try enc.encode(fio), as: UTF8.self) == fioLine)
    }
}
