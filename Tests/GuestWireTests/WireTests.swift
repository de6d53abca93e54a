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

@Suite struct PhaseWireTests {
    @Test func phasesAndDistributionRoundTripOnTheCommandLine() throws {
        let spec = WorkloadSpec(
            runtimeMillis: 4000, distribution: .zipf(thetaMillis: 1200),
            phases: [.write(millis: 4000), .idle(millis: 15000), .write(millis: 4000)])
        #expect(spec.kernelParameter.hasSuffix(",dist=zipf1200,ph=w4000.i15000.w4000"))
        #expect(try WorkloadSpec(commandLine: "quiet \(spec.kernelParameter)") == spec)
        #expect(!WorkloadSpec().kernelParameter.contains("ph="))
    }

    @Test func distributionSpellings() {
        #expect(OffsetDistribution(parsing: "zipf:1.2") == .zipf(thetaMillis: 1200))
        #expect(OffsetDistribution(parsing: "zipf:0.05") == .zipf(thetaMillis: 50))
        #expect(OffsetDistribution.zipf(thetaMillis: 1200).description == "zipf:1.2")
        #expect(OffsetDistribution.zipf(thetaMillis: 50).description == "zipf:0.05")
        #expect(OffsetDistribution(parsing: "zipf:") == nil)
        #expect(OffsetDistribution(parsing: "zipf:11") == nil)
    }

    @Test func phaseResultsSurviveTheGuestEncoder() throws {
        var r = GuestResultWireTests.sample
        r.phases = [PhaseResult(phase: .idle(millis: 1000), ops: 0, iops: 0, perSecondOps: [], p50Us: 0, p99Us: 0)]
        let line = try JSONLine.encode(r)
        #expect(line.contains(#""phase":"i1000""#))
        #expect(try JSONDecoder().decode(GuestResult.self, from: Data(line.utf8)) == r)
    }
}
