import Foundation
import GuestWire
import Testing

@Suite struct WorkloadSpecTests {
    @Test func kernelParameterRoundTrips() throws {
        let spec = WorkloadSpec(blockSize: 8192, iodepth: 16, rampMillis: 1500, runtimeMillis: 3000, spanBytes: 1 << 30, seed: 42, device: "vdb")
        let line = "console=ttyS0 quiet panic=-1 \(spec.kernelParameter) other=1"
        #expect(try WorkloadSpec(commandLine: line) == spec)
    }

    @Test func missingAndBadSpecs() {
        #expect(throws: WireError.missingSpec) { try WorkloadSpec(commandLine: "console=ttyS0") }
        #expect(throws: WireError.self) { try WorkloadSpec(commandLine: "qcb.spec=v2,bs=4096") }
        #expect(throws: WireError.self) {
            try WorkloadSpec(commandLine: "qcb.spec=v1,bs=100,qd=1,ramp=0,rt=1,span=0,seed=1,dev=vda")
        }
        #expect(throws: WireError.badSpec("unknown field zz")) {
            try WorkloadSpec(commandLine: "qcb.spec=v1,bs=4096,qd=1,ramp=0,rt=1,span=0,seed=1,dev=vda,zz=1")
        }
    }
}

@Suite struct GuestResultWireTests {
    static let sample = GuestResult(
        driver: "native", ops: 1000, seconds: 2, iops: 500, mibPerSecond: 1.953125,
        latency: .init(meanUs: 10.5, p50Us: 9, p99Us: 20.25, p999Us: 31, maxUs: 40),
        perSecondOps: [480, 520], ioErrors: 1, firstError: "pwrite at 4096: \"EIO\"\n", bootToFirstIOMillis: 2600,
        deviceBytes: 1 << 30, spec: WorkloadSpec())

    @Test func guestEncodingDecodesOnTheHost() throws {
        let line = try JSONLine.encode(Self.sample)
        #expect(!line.contains("\n"))
        let back = try JSONDecoder().decode(GuestResult.self, from: Data(line.utf8))
        #expect(back == Self.sample)
    }

    @Test func keysAreSortedLikeTheHostEncoder() throws {
        let line = try JSONLine.encode(Self.sample)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let host = String(decoding: try enc.encode(Self.sample), as: UTF8.self)
        #expect(line == host)
    }

    @Test func decodesARecordFromAnOlderGuestWithoutOptionalFields() throws {
        var s = Self.sample
        s.firstError = nil
        let line = try JSONLine.encode(s)
        #expect(!line.contains("firstError"))
        #expect(try JSONDecoder().decode(GuestResult.self, from: Data(line.utf8)) == s)
    }
}
