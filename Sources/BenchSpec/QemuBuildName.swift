import Qcow2Geometry

/// Names of QEMU builds (`--qemu-build NAME=PATH`, `host.qemu_build`).
/// A name ends up in cell ids, file names and CSV cells, so it is kept to
/// letters, digits, `-`, `_` and `.`.
public enum QemuBuildName {
    /// The default build: `qemu-system-x86_64` and `qemu-img` from PATH.
    public static let system = "system"

    public static func validate(_ name: String, field: String) throws(InvalidValue) {
        guard Matrix.isValidName(name) else {
            throw InvalidValue(field: field, value: name, rule: "a build name must be 1 to 64 characters: letters, digits, '-', '_' or '.'")
        }
    }
}

extension Cell {
    /// The build's name (`system` when none was named).
    public var build: String {
        get { qemuBuild ?? QemuBuildName.system }
        set { qemuBuild = newValue == QemuBuildName.system ? nil : newValue }
    }
}
