import BenchSpec
import Qcow2Geometry

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// The disk a guest writes to, as QEMU `-blockdev` nodes.
public enum GuestDisk: Hashable, Sendable {
    /// `backing`: a qcow2 backing image (overlay state), opened read-only
    /// with the same host I/O settings; the cache options apply to the
    /// overlay, the node the guest writes to.
    case qcow2(path: String, hostIO: HostIO, cache: CacheConfig, backing: String? = nil)
    case raw(path: String, hostIO: HostIO)
    case null(size: ByteSize)
}

/// A full `qemu-system-x86_64` invocation for one guest run. Built as a value
/// so its argv can be tested and stored in the record exactly as executed.
public struct QemuCommand: ModeledCommand, Hashable {
    public var qemu: String = "qemu-system-x86_64"
    /// `kvm` or `tcg`.
    public var accel: Accelerator
    public var kernel: String
    public var initrd: String
    /// Extra kernel parameters (the workload spec).
    public var kernelParameters: [String]
    /// The disks, in order: disk `i` has node `disk<i>` and, in a shared
    /// guest, virtio serial `d<i>`.
    public var disks: [GuestDisk]
    public var consolePath: String
    /// A Unix socket for the guest's second serial port (`/dev/ttyS1`): the
    /// slot protocol of a shared guest. QEMU listens; the host connects.
    public var controlSocket: String?
    public var memoryMiB: Int = 256
    public var cpus: Int = 1
    /// Appended to the argv as given (a shared guest's trace log and QMP socket).
    public var extraArguments: [String] = []

    public init(accel: Accelerator, kernel: String, initrd: String, kernelParameters: [String], disk: GuestDisk, consolePath: String) {
        self.init(accel: accel, kernel: kernel, initrd: initrd, kernelParameters: kernelParameters, disks: [disk], consolePath: consolePath)
    }

    public init(
        accel: Accelerator, kernel: String, initrd: String, kernelParameters: [String], disks: [GuestDisk], consolePath: String,
        controlSocket: String? = nil
    ) {
        self.accel = accel
        self.kernel = kernel
        self.initrd = initrd
        self.kernelParameters = kernelParameters
        self.disks = disks
        self.consolePath = consolePath
        self.controlSocket = controlSocket
    }

    /// The single disk of a guest-per-run command.
    public var disk: GuestDisk { disks[0] }

    /// Node name of disk `i`'s root block node.
    static func diskNode(_ i: Int) -> String { "disk\(i)" }

    /// The virtio serial the guest finds disk `i` by.
    public static func serial(_ i: Int) -> String { "d\(i)" }

    static func blockdevs(_ disk: GuestDisk, index i: Int) -> [String] {
        func fileNode(_ path: String, _ io: HostIO, name: String, readOnly: Bool = false) -> String {
            var o = ["driver=file", "node-name=\(name)", "filename=\(Self.escape(path))", "aio=\(io.aio)", "cache.direct=\(io.direct ? "on" : "off")"]
            if io.noFlush { o.append("cache.no-flush=on") }
            if readOnly { o.append("read-only=on") }
            return o.joined(separator: ",")
        }
        switch disk {
        case .null(let size):
            return ["driver=null-co,node-name=\(diskNode(i)),size=\(size.bytes)"]
        case .raw(let path, let io):
            return [fileNode(path, io, name: "file\(i)"), "driver=raw,node-name=\(diskNode(i)),file=file\(i)"]
        case .qcow2(let path, let io, let cache, let backing):
            let opts = cache.blockdevOptions.map { "\($0.key)=\($0.value)" }
            var nodes: [String] = []
            var top = ["driver=qcow2", "node-name=\(diskNode(i))", "file=file\(i)"]
            if let backing {
                nodes.append(fileNode(backing, io, name: "backingfile\(i)", readOnly: true))
                nodes.append("driver=qcow2,node-name=backing\(i),file=backingfile\(i),read-only=on")
                top.append("backing=backing\(i)")
            }
            nodes.append(fileNode(path, io, name: "file\(i)"))
            nodes.append((top + opts).joined(separator: ","))
            return nodes
        }
    }

    public var argv: [String] {
        var a = [qemu, "-accel", accel.rawValue]
        if accel == .kvm { a += ["-cpu", "host"] }
        a += [
            "-m", "\(memoryMiB)", "-smp", "\(cpus)",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-chardev", "file,id=console0,path=\(Self.escape(consolePath))",
            "-serial", "chardev:console0",
            // Thread names ("CPU 0/TCG", "IO iothread0") let the host split
            // QEMU's CPU time by role, per slot and per run.
            "-name", "qcb,debug-threads=on",
        ]
        if let controlSocket {
            a += ["-chardev", "socket,id=control0,path=\(Self.escape(controlSocket)),server=on,wait=off", "-serial", "chardev:control0"]
        }
        a += [
            "-kernel", kernel, "-initrd", initrd,
            "-append", (["console=ttyS0", "quiet", "panic=-1"] + kernelParameters).joined(separator: " "),
            "-object", "iothread,id=iothread0",
        ]
        for (i, d) in disks.enumerated() {
            for b in Self.blockdevs(d, index: i) { a += ["-blockdev", b] }
        }
        for i in disks.indices {
            var dev = "virtio-blk-pci,drive=\(Self.diskNode(i)),iothread=iothread0"
            if controlSocket != nil { dev += ",serial=\(Self.serial(i))" }
            a += ["-device", dev]
        }
        a += ["-nic", "none"]
        return a + extraArguments
    }

    /// The argv actually executed: QEMU resolved on PATH and wrapped so it
    /// dies with the harness (`DiesWithHarness`). `argv` stays what records show.
    func spawnArgv() throws -> [String] {
        let qemu = argv[0]
        return try DiesWithHarness.argv(
            [FilePath(qemu).isAbsolute ? qemu : ExecutableSearch.find(qemu) ?? qemu] + argv.dropFirst())
    }

    /// QEMU option values separate fields with commas; a literal comma is doubled.
    static func escape(_ s: String) -> String {
        s.split(separator: ",", omittingEmptySubsequences: false).joined(separator: ",,")
    }
}
