import BenchSpec
import Qcow2Geometry
import Testing

@testable import Orchestrator

@Suite struct QemuCommandTests {
    func command(_ disk: GuestDisk) -> QemuCommand {
        QemuCommand(
            accel: .tcg, kernel: "/k/vmlinuz", initrd: "/i.cpio", kernelParameters: ["qcb.spec=v1"], disk: disk,
            consolePath: "/w/console.log")
    }

    @Test func qcow2NodeCarriesOnlyNonDefaultCacheOptions() {
        let argv = command(.qcow2(path: "/w/disk.qcow2", hostIO: HostIO(), cache: CacheConfig(l2CacheSize: .value(.kib(128))))).argv
        let blockdevs = argv.indices.filter { argv[$0] == "-blockdev" }.map { argv[$0 + 1] }
        #expect(blockdevs == [
            "driver=file,node-name=file0,filename=/w/disk.qcow2,aio=native,cache.direct=on",
            "driver=qcow2,node-name=disk0,file=file0,l2-cache-size=131072",
        ])
        #expect(argv.contains("virtio-blk-pci,drive=disk0,iothread=iothread0"))
        #expect(argv.contains("none"))  // -nic none
        #expect(argv.first == "qemu-system-x86_64")
        #expect(argv[argv.firstIndex(of: "-append")! + 1] == "console=ttyS0 quiet panic=-1 qcb.spec=v1")
    }

    @Test func nullAndRawDisks() {
        let null = command(.null(size: .gib(16))).argv
        #expect(null.contains("driver=null-co,node-name=disk0,size=17179869184"))
        let raw = command(.raw(path: "/w/d.raw", hostIO: HostIO(cache: "writeback", aio: "threads"))).argv
        #expect(raw.contains("driver=file,node-name=file0,filename=/w/d.raw,aio=threads,cache.direct=off"))
        #expect(raw.contains("driver=raw,node-name=disk0,file=file0"))
    }

    @Test func commasInPathsAreDoubled() {
        let argv = command(.raw(path: "/w/a,b.raw", hostIO: HostIO())).argv
        #expect(argv.contains { $0.contains("filename=/w/a,,b.raw,") })
    }

    @Test func kvmUsesHostCPU() {
        var c = command(.null(size: .mib(64)))
        c.accel = .kvm
        #expect(c.argv.starts(with: ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host"]))
    }

    @Test func qemuImgArgv() {
        let g = ImageGeometry(diskSize: .gib(16), clusterSize: .kib(64))
        #expect(QemuImgCreate(path: "/w/d.qcow2", kind: .qcow2, state: .preallocated, geometry: g).argv == [
            "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536,refcount_bits=16,preallocation=metadata",
            "/w/d.qcow2", "17179869184",
        ])
        #expect(QemuImgCreate(path: "/w/d.qcow2", kind: .qcow2, state: .fresh, geometry: g).argv[6] == "cluster_size=65536,refcount_bits=16")
        // Host blocks written too: no allocation below qcow2 either.
        #expect(
            QemuImgCreate(path: "/w/d.qcow2", kind: .qcow2, state: .allocated, geometry: g).argv[6]
                == "cluster_size=65536,refcount_bits=16,preallocation=full")
        #expect(QemuImgCreate(path: "/w/d.raw", kind: .raw, state: .fresh, geometry: g).argv == [
            "qemu-img", "create", "-q", "-f", "raw", "/w/d.raw", "17179869184",
        ])
    }
}

@Suite struct CPIOArchiveTests {
    @Test func newcLayout() {
        var a = CPIOArchive()
        a.addFile("init", contents: Array("hi".utf8), mode: 0o755)
        a.finish()
        let b = a.bytes
        #expect(String(decoding: b[0..<6], as: UTF8.self) == "070701")
        #expect(b.count % 4 == 0)
        // mode field (second 8-hex field) = regular file 0755
        #expect(String(decoding: b[14..<22], as: UTF8.self) == "000081ED")
        // filesize field (7th)
        #expect(String(decoding: b[54..<62], as: UTF8.self) == "00000002")
        let text = String(decoding: b, as: UTF8.self)
        #expect(text.contains("TRAILER!!!"))
    }

    @Test func identicalInputsGiveIdenticalArchives() {
        func make() -> [UInt8] {
            var a = CPIOArchive()
            a.addDirectory("bin")
            a.addFile("bin/x", contents: [1, 2, 3])
            a.finish()
            return a.bytes
        }
        #expect(make() == make())
    }
}

@Suite struct ConsoleTranscriptTests {
    @Test func findsResultAmongKernelNoiseWithCRLF() {
        let json = #"{"bootToFirstIOMillis":1,"deviceBytes":2,"driver":"native","ioErrors":0,"iops":3,"latency":{"maxUs":1,"meanUs":1,"p50Us":1,"p999Us":1,"p99Us":1},"mibPerSecond":1,"ops":3,"perSecondOps":[3],"seconds":1,"spec":{"blockSize":4096,"device":"vda","iodepth":1,"rampMillis":0,"runtimeMillis":1000,"seed":1,"spanBytes":0}}"#
        let text = "\u{1B}[2JSeaBIOS\r\n@@QCB-READY@@ uptime_ms=1\r\n@@QCB-RESULT@@ \(json)\r\n[ 6.8] reboot: Power down\r\n"
        guard case .result(let r) = ConsoleTranscript.parse(text) else {
            Issue.record("no result")
            return
        }
        #expect(r.ops == 3)
    }

    @Test func errorsTruncationAndSilence() {
        #expect(ConsoleTranscript.parse("@@QCB-ERROR@@ open(/dev/vda) failed\r\n") == .guestError("open(/dev/vda) failed"))
        guard case .malformed = ConsoleTranscript.parse("@@QCB-RESULT@@ {\"ops\":1,") else {
            Issue.record("truncated record not flagged")
            return
        }
        #expect(ConsoleTranscript.parse("Linux version 6.1\r\n") == .silent)
        guard case .malformed = ConsoleTranscript.parse("@@QCB-READY@@ uptime_ms=1\r\n") else {
            Issue.record("ready without result not flagged")
            return
        }
    }

    @Test func tailStripsEscapes() {
        #expect(ConsoleTranscript.tail("\u{1B}[2J\u{1B}[0mSeaBIOS\r\nline2\r\n", lines: 5) == ["SeaBIOS", "line2"])
    }
}

@Suite struct RunPlanTests {
    @Test func seededShuffleIsDeterministicAndComplete() {
        let cells = (1...4).map { Cell(geometry: ImageGeometry(diskSize: .gib(UInt64($0)))) }
        let a = RunPlan.make(cells: cells, repetitions: 3, seed: 7)
        let b = RunPlan.make(cells: cells, repetitions: 3, seed: 7)
        let c = RunPlan.make(cells: cells, repetitions: 3, seed: 8)
        #expect(a == b)
        #expect(a != c)
        #expect(a.count == 12)
        #expect(Set(a).count == 12)
    }

    /// The order is the project's own Fisher–Yates over (repetition, cell),
    /// not the standard library's unspecified shuffle: pinned for one seed.
    @Test func orderIsPinnedForASeed() {
        let cells = (1...3).map { Cell(geometry: ImageGeometry(diskSize: .gib(UInt64($0)))) }
        let plan = RunPlan.make(cells: cells, repetitions: 2, seed: 1)
        let order = plan.map { "\($0.cell.geometry.diskSize)#\($0.repetition)" }
        // Fisher–Yates of indices 0..<6 with SplitMix64(seed: 1): [2, 0, 1, 4, 5, 3]
        #expect(order == ["3G#1", "1G#1", "2G#1", "2G#2", "3G#2", "1G#2"])
    }
}
