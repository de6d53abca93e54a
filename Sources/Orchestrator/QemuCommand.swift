import BenchSpec
import Qcow2Geometry

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
    public var disk: GuestDisk
    public var consolePath: String
    public var memoryMiB: Int = 256
    public var cpus: Int = 1

    public init(accel: Accelerator, kernel: String, initrd: String, kernelParameters: [String], disk: GuestDisk, consolePath: String) {
        self.accel = accel
        self.kernel = kernel
        self.initrd = initrd
        self.kernelParameters = kernelParameters
        self.disk = disk
        self.consolePath = consolePath
    }

    /// Node name of the device's root block node.
    static let diskNode = "disk0"

    var blockdevs: [String] {
        func fileNode(_ path: String, _ io: HostIO, name: String, readOnly: Bool = false) -> String {
            var o = ["driver=file", "node-name=\(name)", "filename=\(Self.escape(path))", "aio=\(io.aio)", "cache.direct=\(io.direct ? "on" : "off")"]
            if io.noFlush { o.append("cache.no-flush=on") }
            if readOnly { o.append("read-only=on") }
            return o.joined(separator: ",")
        }
        switch disk {
        case .null(let size):
            return ["driver=null-co,node-name=\(Self.diskNode),size=\(size.bytes)"]
        case .raw(let path, let io):
            return [fileNode(path, io, name: "file0"), "driver=raw,node-name=\(Self.diskNode),file=file0"]
        case .qcow2(let path, let io, let cache, let backing):
            let opts = cache.blockdevOptions.map { "\($0.key)=\($0.value)" }
            var nodes: [String] = []
            var top = ["driver=qcow2", "node-name=\(Self.diskNode)", "file=file0"]
            if let backing {
                nodes.append(fileNode(backing, io, name: "backingfile0", readOnly: true))
                nodes.append("driver=qcow2,node-name=backing0,file=backingfile0,read-only=on")
                top.append("backing=backing0")
            }
            nodes.append(fileNode(path, io, name: "file0"))
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
            "-kernel", kernel, "-initrd", initrd,
            "-append", (["console=ttyS0", "quiet", "panic=-1"] + kernelParameters).joined(separator: " "),
            "-object", "iothread,id=iothread0",
        ]
        for b in blockdevs { a += ["-blockdev", b] }
        a += ["-device", "virtio-blk-pci,drive=\(Self.diskNode),iothread=iothread0", "-nic", "none"]
        return a
    }

    /// QEMU option values separate fields with commas; a literal comma is doubled.
    static func escape(_ s: String) -> String {
        s.split(separator: ",", omittingEmptySubsequences: false).joined(separator: ",,")
    }
}
