import Foundation
import GuestWire

/// Assembles the guest's initramfs: busybox (for a tiny PID 1 that mounts
/// /proc before the Swift runtime needs it), the virtio modules and the
/// static guest driver. Cached by content hash under the setup cache, so it
/// is built once per kernel + driver.
///
/// The fio variant adds the host's fio and its shared libraries
/// (`FioPayload`) and has its own content hash, so native runs never pay
/// for fio's ~85 MB in boot time.
public struct Initramfs: Sendable {
    public var path: String
    public var contentHash: String
    /// Kernel parameters this archive needs to unpack (none for the native one).
    public var kernelParameters: [String] = []

    /// The fio variant unpacks to ~100 MB, more than the tmpfs the kernel
    /// uses as rootfs may hold (half the RAM not yet reserved, and the
    /// compressed archive is still reserved while it unpacks: "Initramfs
    /// unpacking failed: write error" at 256 MiB). ramfs has no such cap.
    public static let fioKernelParameters = ["rootfstype=ramfs"]

    /// The PID 1 script. It loads the modules in dependency order, waits for
    /// the disk, runs the driver with stdout on the console, and powers off
    /// whatever the driver's fate.
    ///
    /// `SWIFT_DETERMINISTIC_HASHING=1`: otherwise the Swift runtime seeds its
    /// hashing with `getrandom()` at startup, which blocks until the kernel's
    /// entropy pool is ready, about 1 s after boot under TCG; the driver uses
    /// no hashed collections on its I/O path, so the seed does not matter.
    static func initScript(modules: [String]) -> String {
        """
        #!/bin/busybox sh
        /bin/busybox mount -t proc proc /proc
        /bin/busybox mount -t sysfs sys /sys
        /bin/busybox mount -t devtmpfs dev /dev
        for m in \(modules.joined(separator: " ")); do
          /bin/busybox insmod /lib/modules/$m.ko || echo "@@QCB-ERROR@@ insmod $m failed"
        done
        i=0
        while [ ! -b /dev/vda ] && [ $i -lt 250 ]; do /bin/busybox usleep 20000; i=$((i+1)); done
        SWIFT_DETERMINISTIC_HASHING=1 /bin/bench-guest
        /bin/busybox poweroff -f

        """
    }

    /// Builds (or reuses) the native-driver initramfs for `kernel` and the driver at `guestBinary`.
    public static func prepare(kernel: GuestKernel, guestBinary: String, busybox: String = "/bin/busybox") throws(OrchestratorError) -> Initramfs {
        let contents = try Contents.base(kernel: kernel, guestBinary: guestBinary, busybox: busybox)
        let digest = contents.hash
        let path = "\(cacheDirectory)/\(digest).cpio"
        if FileManager.default.fileExists(atPath: path) { return Initramfs(path: path, contentHash: digest) }
        try write(contents.archive(), to: path)
        return Initramfs(path: path, contentHash: digest)
    }

    /// Builds (or reuses) the initramfs a `driver` needs: the native one, or
    /// the fio variant with the host's fio located on PATH.
    public static func prepare(
        driver: GuestDriver, kernel: GuestKernel, guestBinary: String, busybox: String = "/bin/busybox"
    ) async throws(OrchestratorError) -> Initramfs {
        switch driver {
        case .native: return try prepare(kernel: kernel, guestBinary: guestBinary, busybox: busybox)
        case .fio: return try await prepare(kernel: kernel, guestBinary: guestBinary, busybox: busybox, fio: try await FioPayload.locate())
        }
    }

    /// Builds (or reuses) the fio variant: the native contents plus `fio`.
    ///
    /// It is gzip-compressed, which halves what the kernel holds in memory
    /// while unpacking; it also needs `fioKernelParameters`.
    public static func prepare(
        kernel: GuestKernel, guestBinary: String, busybox: String = "/bin/busybox", fio: FioPayload
    ) async throws(OrchestratorError) -> Initramfs {
        var contents = try Contents.base(kernel: kernel, guestBinary: guestBinary, busybox: busybox)
        contents.variant = "fio"
        for file in fio.files {
            contents.files.append(.init(path: String(file.guestPath.drop(while: { $0 == "/" })), data: try read(file.hostPath), mode: 0o755))
        }
        let digest = contents.hash
        let path = "\(cacheDirectory)/\(digest).cpio.gz"
        let made = Initramfs(path: path, contentHash: digest, kernelParameters: fioKernelParameters)
        if FileManager.default.fileExists(atPath: path) { return made }

        let tmp = "\(cacheDirectory)/\(digest).cpio.tmp.\(getpid()).\(UUID().uuidString)"
        try write(contents.archive(), to: tmp, atomically: false)
        let gzip = ["gzip", "-1", "-n", "-f", tmp]
        let out: ToolOutput
        do {
            out = try await ToolRunner.run(gzip)
        } catch {
            unlink(tmp)
            throw error
        }
        guard out.succeeded else {
            unlink(tmp)
            unlink(tmp + ".gz")
            throw .toolFailed(argv: gzip, status: "\(out.status)", stderr: out.stderr)
        }
        guard rename(tmp + ".gz", path) == 0 else {
            let err = errno
            unlink(tmp + ".gz")
            throw .io(what: "cannot write initramfs", path: path, errno: err)
        }
        return made
    }

    static var cacheDirectory: String { GuestKernel.cacheRoot + "/initramfs" }

    static func read(_ p: String) throws(OrchestratorError) -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: p) else { throw .io(what: "cannot read", path: p, errno: errno) }
        return [UInt8](d)
    }

    /// Writes `bytes` to `path`, by default through a temporary file and a
    /// rename so a concurrent reader never sees half an archive. The
    /// temporary name is unique per call: two preparations in one process
    /// (parallel tests) must not share it.
    static func write(_ bytes: [UInt8], to path: String, atomically: Bool = true) throws(OrchestratorError) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
            let target = atomically ? path + ".tmp.\(getpid()).\(UUID().uuidString)" : path
            try Data(bytes).write(to: URL(fileURLWithPath: target))
            if atomically, rename(target, path) != 0 { throw CocoaError(.fileWriteUnknown) }
        } catch {
            throw .io(what: "cannot write initramfs", path: path, errno: errno)
        }
    }

    /// What goes into an archive, in order, and the content key of it.
    struct Contents {
        struct File {
            var path: String
            var data: [UInt8]
            var mode: UInt32
        }
        var script: [UInt8]
        var driver: [UInt8]
        var busybox: [UInt8]
        var modules: [(name: String, data: [UInt8])]
        /// Extra files (a driver variant's payload), paths relative to /.
        var files: [File] = []
        /// Names the variant in the hash; nil for the native initramfs.
        var variant: String?

        static func base(kernel: GuestKernel, guestBinary: String, busybox: String) throws(OrchestratorError) -> Contents {
            let fm = FileManager.default
            guard fm.isReadableFile(atPath: guestBinary) else { throw .guestBinaryMissing(path: guestBinary) }
            guard fm.isReadableFile(atPath: busybox) else {
                throw .toolMissing(tool: busybox, hint: "install busybox-static (scripts/setup)")
            }
            let names = GuestKernel.moduleOrder
            var mods: [(name: String, data: [UInt8])] = []
            for (name, path) in zip(names, kernel.modules) { mods.append((name, try read(path))) }
            return Contents(
                script: Array(initScript(modules: names).utf8), driver: try read(guestBinary), busybox: try read(busybox),
                modules: mods)
        }

        /// The native initramfs hashes exactly as it did before variants existed.
        var hash: String {
            var h = FNV1a64()
            h.add(script)
            h.add(driver)
            h.add(busybox)
            for (n, m) in modules { h.add(Array(n.utf8)); h.add(m) }
            if let variant {
                h.add(Array("variant=\(variant)".utf8))
                for f in files { h.add(Array(f.path.utf8)); h.add(f.data) }
            }
            return h.hex
        }

        func archive() -> [UInt8] {
            var cpio = CPIOArchive()
            var dirs = ["bin", "dev", "proc", "sys", "lib", "lib/modules"]
            for d in dirs { cpio.addDirectory(d) }
            cpio.addFile("init", contents: script, mode: 0o755)
            cpio.addFile("bin/busybox", contents: busybox, mode: 0o755)
            cpio.addFile("bin/bench-guest", contents: driver, mode: 0o755)
            for (n, m) in modules { cpio.addFile("lib/modules/\(n).ko", contents: m) }
            for f in files {
                // The kernel's unpacker does not create parents: add each once, outermost first.
                let parts = f.path.split(separator: "/").dropLast()
                for i in parts.indices {
                    let dir = parts[...i].joined(separator: "/")
                    if !dirs.contains(dir) {
                        dirs.append(dir)
                        cpio.addDirectory(dir)
                    }
                }
                cpio.addFile(f.path, contents: f.data, mode: f.mode)
            }
            cpio.finish()
            return cpio.bytes
        }
    }
}
