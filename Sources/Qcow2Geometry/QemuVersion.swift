/// A QEMU release number, as `qemu-system-x86_64 --version` prints it
/// (`QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u16)`).
public struct QemuVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var micro: Int

    public init(_ major: Int, _ minor: Int, _ micro: Int = 0) {
        self.major = major
        self.minor = minor
        self.micro = micro
    }

    /// The number after `version ` in the first line of `--version`
    /// output (or the text itself when it starts with the number); nil
    /// when there is none.
    public init?(parsing text: String) {
        let line = text.split(separator: "\n").first.map(String.init) ?? text
        // The first word that starts with a digit ("version" precedes it).
        let words = line.split(separator: " ")
        let rest = words.first { $0.first?.isNumber == true } ?? Substring("")
        let number = rest.prefix { $0.isNumber || $0 == "." }
        let parts = number.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2 else { return nil }
        self.init(parts[0], parts[1], parts.count > 2 ? parts[2] : 0)
    }

    public static func < (a: QemuVersion, b: QemuVersion) -> Bool {
        (a.major, a.minor, a.micro) < (b.major, b.minor, b.micro)
    }

    public var description: String { "\(major).\(minor).\(micro)" }
}

extension QemuCacheModel {
    /// The oldest QEMU whose cache rules `effective` follows. Before 4.0 the
    /// L2 entry size was the cluster size whatever the coverage, and before
    /// 3.1 `l2-cache-size` defaulted to 1 MiB instead of "cover the disk up
    /// to 32 MiB" and the clean interval to 0 (DESIGN.md §2b); the model
    /// would report effective values those builds do not use, so such
    /// builds are refused rather than misdescribed.
    public static let oldestModelledQemu = QemuVersion(4, 0)

    /// Why the model cannot describe `version`, or nil when it can.
    public static func unsupportedReason(_ version: QemuVersion) -> String? {
        guard version < oldestModelledQemu else { return nil }
        return "QEMU \(version) is older than \(oldestModelledQemu), the oldest whose qcow2 cache defaults the harness models"
    }
}

extension QemuCacheModel {
    /// The first QEMU with `extended_l2` (16-byte L2 entries, subclusters).
    public static let firstExtendedL2Qemu = QemuVersion(5, 2)

    /// Why a build of `version` cannot run a cell of `geometry` as the model
    /// describes it, or nil when it can: the geometry-dependent part of the
    /// cache rules that changed within the modelled versions.
    public static func unsupportedReason(_ version: QemuVersion, geometry: ImageGeometry) -> String? {
        if let why = unsupportedReason(version) { return why }
        if geometry.extendedL2 && version < firstExtendedL2Qemu {
            return "QEMU \(version) has no extended_l2 (16-byte L2 entries came in \(firstExtendedL2Qemu))"
        }
        return nil
    }
}
