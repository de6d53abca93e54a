import Foundation

/// Assembles the guest's initramfs: busybox (for a tiny PID 1 that mounts
/// /proc before the Swift runtime needs it), the virtio modules and the
/// static guest driver. Cached by content hash under the setup cache, so it
/// is built once per kernel + driver.
public struct Initramfs: Sendable {
    public var path: String
    public var contentHash: String

    /// The PID 1 script. It loads the modules in dependency order, waits for
    /// the disk, runs the driver with stdout on the console, and powers off
    /// whatever the driver's fate.
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
        /bin/bench-guest
        /bin/busybox poweroff -f

        """
    }

    /// Builds (or reuses) the initramfs for `kernel` and the driver at `guestBinary`.
    public static func prepare(kernel: GuestKernel, guestBinary: String, busybox: String = "/bin/busybox") throws(OrchestratorError) -> Initramfs {
        let fm = FileManager.default
        guard fm.isReadableFile(atPath: guestBinary) else { throw .guestBinaryMissing(path: guestBinary) }
        guard fm.isReadableFile(atPath: busybox) else {
            throw .toolMissing(tool: busybox, hint: "install busybox-static (scripts/setup)")
        }
        func read(_ p: String) throws(OrchestratorError) -> [UInt8] {
            guard let d = fm.contents(atPath: p) else { throw .io(what: "cannot read", path: p, errno: errno) }
            return [UInt8](d)
        }
        let names = GuestKernel.moduleOrder
        let script = Array(initScript(modules: names).utf8)
        let driver = try read(guestBinary)
        let bb = try read(busybox)
        var mods: [(String, [UInt8])] = []
        for (name, path) in zip(names, kernel.modules) { mods.append((name, try read(path))) }

        var hash = FNV1a64()
        hash.add(script)
        hash.add(driver)
        hash.add(bb)
        for (n, m) in mods { hash.add(Array(n.utf8)); hash.add(m) }
        let digest = hash.hex

        let dir = GuestKernel.cacheRoot + "/initramfs"
        let path = "\(dir)/\(digest).cpio"
        if fm.fileExists(atPath: path) { return Initramfs(path: path, contentHash: digest) }

        var cpio = CPIOArchive()
        for d in ["bin", "dev", "proc", "sys", "lib", "lib/modules"] { cpio.addDirectory(d) }
        cpio.addFile("init", contents: script, mode: 0o755)
        cpio.addFile("bin/busybox", contents: bb, mode: 0o755)
        cpio.addFile("bin/bench-guest", contents: driver, mode: 0o755)
        for (n, m) in mods { cpio.addFile("lib/modules/\(n).ko", contents: m) }
        cpio.finish()

        do {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let tmp = path + ".tmp.\(getpid())"
            try Data(cpio.bytes).write(to: URL(fileURLWithPath: tmp))
            if rename(tmp, path) != 0 { throw CocoaError(.fileWriteUnknown) }
        } catch {
            throw .io(what: "cannot write initramfs", path: path, errno: errno)
        }
        return Initramfs(path: path, contentHash: digest)
    }
}

/// FNV-1a, 64 bit: a content key for caches, not a security hash.
struct FNV1a64 {
    var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: [UInt8]) {
        var h = state
        bytes.withUnsafeBufferPointer { buf in
            for b in buf {
                h ^= UInt64(b)
                h &*= 0x100_0000_01b3
            }
        }
        state = h
    }

    var hex: String {
        let s = String(state, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
