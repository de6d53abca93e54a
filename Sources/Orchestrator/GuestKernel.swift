import Foundation

/// A guest kernel with the virtio modules the initramfs must load, as laid
/// out by scripts/setup: `DIR/vmlinuz`, `DIR/modules/*.ko`, `DIR/modules/order`.
public struct GuestKernel: Sendable, Hashable {
    public var directory: String
    public var vmlinuz: String
    /// Module files in load order (dependencies first).
    public var modules: [String]
    public var version: String

    public static let moduleOrder = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_blk"]

    /// `${XDG_CACHE_HOME:-~/.cache}/qcow2-cache-bench`.
    public static var cacheRoot: String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return base + "/qcow2-cache-bench"
    }

    public static var defaultDirectory: String { cacheRoot + "/kernel/current" }

    /// Finds and checks the kernel in `directory` (default: the setup cache).
    public static func locate(_ directory: String? = nil) throws(OrchestratorError) -> GuestKernel {
        let dir = directory ?? defaultDirectory
        let fm = FileManager.default
        let vmlinuz = dir + "/vmlinuz"
        guard fm.fileExists(atPath: vmlinuz) else { throw .kernelMissing(path: dir) }
        guard fm.isReadableFile(atPath: vmlinuz) else { throw .kernelInvalid(path: vmlinuz, why: "not readable") }
        // An x86 bzImage carries "HdrS" at offset 0x202.
        guard let h = FileHandle(forReadingAtPath: vmlinuz) else { throw .kernelInvalid(path: vmlinuz, why: "cannot open") }
        defer { try? h.close() }
        let head = (try? h.read(upToCount: 0x210)) ?? Data()
        guard head.count >= 0x206, head[0x202] == 0x48, head[0x203] == 0x64, head[0x204] == 0x72, head[0x205] == 0x53 else {
            throw .kernelInvalid(path: vmlinuz, why: "not an x86 bzImage (no HdrS header)")
        }
        var modules: [String] = []
        for m in moduleOrder {
            let p = dir + "/modules/\(m).ko"
            guard fm.isReadableFile(atPath: p) else { throw .kernelInvalid(path: dir, why: "module \(m).ko missing under modules/; rerun scripts/setup") }
            modules.append(p)
        }
        let version = (try? String(contentsOfFile: dir + "/version", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? URL(fileURLWithPath: dir).resolvingSymlinksInPath().lastPathComponent
        return GuestKernel(directory: dir, vmlinuz: vmlinuz, modules: modules, version: version)
    }
}
