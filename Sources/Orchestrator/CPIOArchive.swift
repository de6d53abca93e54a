/// A writer for the `newc` cpio format the Linux kernel unpacks as an
/// initramfs. Hand-written because it is ~50 lines and no Swift package
/// provides it; entries are emitted in the order added, with fixed
/// timestamps and owners so identical inputs give identical archives.
public struct CPIOArchive {
    public private(set) var bytes: [UInt8] = []
    private var inode: UInt32 = 1

    public init() {}

    public mutating func addDirectory(_ path: String, mode: UInt32 = 0o755) {
        append(path: path, mode: 0o040000 | mode, data: [])
    }

    public mutating func addFile(_ path: String, contents: [UInt8], mode: UInt32 = 0o644) {
        append(path: path, mode: 0o100000 | mode, data: contents)
    }

    /// Terminates the archive; call once, last.
    public mutating func finish() {
        append(path: "TRAILER!!!", mode: 0, data: [], nlink: 1)
    }

    private mutating func append(path: String, mode: UInt32, data: [UInt8], nlink: UInt32? = nil) {
        let name = Array(path.utf8) + [0]
        let fields: [UInt32] = [
            inode, mode, 0, 0, nlink ?? (mode & 0o040000 != 0 ? 2 : 1), 0,
            UInt32(data.count), 0, 0, 0, 0, UInt32(name.count), 0,
        ]
        inode += 1
        bytes += Array("070701".utf8)
        for f in fields { bytes += Self.hex8(f) }
        bytes += name
        pad()
        bytes += data
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    static func hex8(_ v: UInt32) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        return (0..<8).reversed().map { digits[Int((v >> (UInt32($0) * 4)) & 0xF)] }
    }
}
