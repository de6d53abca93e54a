import BenchSpec
import Foundation
import GuestWire
import Qcow2Geometry
import Testing

@testable import Orchestrator

/// The fio payload (from `ldd`) and the initramfs variant that carries it.
@Suite struct FioPayloadTests {
    /// Lines in the format `ldd /usr/bin/fio` prints on Debian 12.
    static let ldd = """
        \tlinux-vdso.so.1 (0x00007ffd5c3f2000)
        \tlibaio.so.1 => /lib/x86_64-linux-gnu/libaio.so.1 (0x00007f5e86489000)
        \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5e853c9000)
        \t/lib64/ld-linux-x86-64.so.2 (0x00007f5e864d0000)
        \tlibceph-common.so.2 => /usr/lib/x86_64-linux-gnu/ceph/libceph-common.so.2 (0x00007f5e7c000000)
        \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5e853c9000)

        """

    @Test func lddOutputBecomesGuestPaths() throws {
        let p = try FioPayload(binary: "/usr/bin/fio", ldd: Self.ldd)
        #expect(
            p.files == [
                .init(guestPath: "/bin/fio", hostPath: "/usr/bin/fio"),
                .init(guestPath: "/lib/qcb-fio/libaio.so.1", hostPath: "/lib/x86_64-linux-gnu/libaio.so.1"),
                .init(guestPath: "/lib/qcb-fio/libc.so.6", hostPath: "/lib/x86_64-linux-gnu/libc.so.6"),
                .init(guestPath: "/lib64/ld-linux-x86-64.so.2", hostPath: "/lib64/ld-linux-x86-64.so.2"),
                .init(guestPath: "/lib/qcb-fio/libceph-common.so.2", hostPath: "/usr/lib/x86_64-linux-gnu/ceph/libceph-common.so.2"),
            ])
    }

    @Test func aMissingLibraryIsRefused() {
        #expect(throws: OrchestratorError.self) {
            try FioPayload(binary: "/usr/bin/fio", ldd: "\tlibrbd.so.1 => not found\n")
        }
        #expect(throws: OrchestratorError.self) {
            try FioPayload(binary: "/usr/bin/fio", ldd: "\tlibx.so.1 => /a/libx.so.1 (0x1)\n\tlibx.so.1 => /b/libx.so.1 (0x2)\n")
        }
    }

    @Test func theVariantLeavesTheNativeInitramfsAlone() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qcb-initramfs-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func file(_ name: String, _ text: String) throws -> String {
            let path = dir + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        let modules = try GuestKernel.moduleOrder.map { try file("\($0).ko", "module \($0)") }
        let kernel = GuestKernel(directory: dir, vmlinuz: try file("vmlinuz", "k"), modules: modules, version: "test")
        let native = try Initramfs.Contents.base(
            kernel: kernel, guestBinary: try file("bench-guest", "guest"), busybox: try file("busybox", "bb"))
        var fio = native
        fio.variant = "fio"
        fio.files = [.init(path: "lib/qcb-fio/libc.so.6", data: Array("libc".utf8), mode: 0o755)]

        #expect(native.hash != fio.hash)
        var same = native
        same.files = fio.files  // files count only for a variant
        #expect(same.hash == native.hash)

        let nativeArchive = String(decoding: native.archive(), as: UTF8.self)
        let fioArchive = String(decoding: fio.archive(), as: UTF8.self)
        #expect(!nativeArchive.contains("qcb-fio"))
        #expect(nativeArchive.contains("SWIFT_DETERMINISTIC_HASHING=1 /bin/bench-guest"))
        // The parent directory is created before the file in it.
        let dirEntry = try #require(fioArchive.range(of: "lib/qcb-fio\0"))
        let fileEntry = try #require(fioArchive.range(of: "lib/qcb-fio/libc.so.6\0"))
        #expect(dirEntry.lowerBound < fileEntry.lowerBound)
    }
}

/// A real guest running fio (needs scripts/setup, including fio).
@Suite(.tags(.guest), .serialized)
struct FioGuestTests {
    @Test func fioDriverRunProducesAFioRecord() async throws {
        let h = try await GuestBootTests.harness()
        defer { h.shutdown() }
        let fio = try await h.using(driver: .fio)
        #expect(fio.context.initramfs.path != h.context.initramfs.path)
        let cell = Cell(
            geometry: ImageGeometry(diskSize: .gib(1)),
            workload: Workload(ramp: TimeSpan(milliseconds: 500), runtime: .seconds(2), driver: .fio))
        let record = await fio.runner.run(PlannedRun(cell: cell, repetition: 1), sequence: 0)

        #expect(record.status == .ok, "\(record.failure ?? "") \(record.consoleTail ?? [])")
        let r = try #require(record.result)
        #expect(r.driver == "fio")
        #expect(r.iops > 0)
        #expect(r.ops > 0)
        #expect(r.ioErrors == 0)
        #expect(r.deviceBytes == 1 << 30)
        #expect(r.spec.driver == .fio)
        #expect(r.bootToFirstIOMillis > 0)
        #expect(record.cellID.hasSuffix("-fio"))
        let append = try #require(record.provenance.qemuCommandLine.first { $0.contains("qcb.spec=") })
        #expect(append.contains("drv=fio") && append.contains("rootfstype=ramfs"))
    }
}
