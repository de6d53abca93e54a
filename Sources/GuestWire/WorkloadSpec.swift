/// What the guest driver must do, as it travels on the kernel command line
/// (the only channel into a guest with no disk of its own and no network).
///
/// Encoded as one token, `qcb.spec=v1,bs=4096,qd=32,...`, so it survives the
/// kernel's own parameter parsing untouched and can be read from /proc/cmdline.
public struct WorkloadSpec: Hashable, Sendable, Codable {
    public static let parameterName = "qcb.spec"
    public static let wireVersion = "v1"

    /// Bytes per I/O; a multiple of 512.
    public var blockSize: UInt32
    /// I/Os kept in flight.
    public var iodepth: UInt32
    /// Warm-up before measuring, in milliseconds: I/Os run but are not counted.
    public var rampMillis: UInt32
    /// Measured time, in milliseconds.
    public var runtimeMillis: UInt32
    /// Bytes from the start of the device that random offsets cover; 0 = all.
    public var spanBytes: UInt64
    /// Seed of the offset generator, so a run's offset sequence is reproducible.
    public var seed: UInt64
    /// Block device name under /dev.
    public var device: String

    public init(
        blockSize: UInt32 = 4096, iodepth: UInt32 = 32, rampMillis: UInt32 = 2000, runtimeMillis: UInt32 = 10000,
        spanBytes: UInt64 = 0, seed: UInt64 = 1, device: String = "vda"
    ) {
        self.blockSize = blockSize
        self.iodepth = iodepth
        self.rampMillis = rampMillis
        self.runtimeMillis = runtimeMillis
        self.spanBytes = spanBytes
        self.seed = seed
        self.device = device
    }

    /// The kernel command line token.
    public var kernelParameter: String {
        "\(Self.parameterName)=\(Self.wireVersion),bs=\(blockSize),qd=\(iodepth),ramp=\(rampMillis),rt=\(runtimeMillis),span=\(spanBytes),seed=\(seed),dev=\(device)"
    }

    /// Finds and decodes the spec token in a whole kernel command line.
    public init(commandLine: String) throws(WireError) {
        let prefix = Self.parameterName + "="
        guard let token = commandLine.split(whereSeparator: { $0 == " " || $0 == "\n" }).first(where: { $0.hasPrefix(prefix) }) else {
            throw WireError.missingSpec
        }
        let fields = token.dropFirst(prefix.count).split(separator: ",")
        guard fields.first.map(String.init) == Self.wireVersion else {
            throw WireError.badSpec("expected \(Self.wireVersion) first in \(token)")
        }
        var values: [String: Substring] = [:]
        for f in fields.dropFirst() {
            let kv = f.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw WireError.badSpec("field without value: \(f)") }
            values[String(kv[0])] = kv[1]
        }
        func number<T: FixedWidthInteger>(_ key: String, _: T.Type) throws(WireError) -> T {
            guard let s = values[key], let v = T(s) else { throw WireError.badSpec("missing or bad \(key)") }
            return v
        }
        let known: Set<String> = ["bs", "qd", "ramp", "rt", "span", "seed", "dev"]
        if let unknown = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw WireError.badSpec("unknown field \(unknown)")
        }
        blockSize = try number("bs", UInt32.self)
        iodepth = try number("qd", UInt32.self)
        rampMillis = try number("ramp", UInt32.self)
        runtimeMillis = try number("rt", UInt32.self)
        spanBytes = try number("span", UInt64.self)
        seed = try number("seed", UInt64.self)
        guard let dev = values["dev"], !dev.isEmpty, dev.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            throw WireError.badSpec("missing or bad dev")
        }
        device = String(dev)
        guard blockSize >= 512, blockSize % 512 == 0 else { throw WireError.badSpec("bs must be a multiple of 512") }
        guard iodepth >= 1, iodepth <= 4096 else { throw WireError.badSpec("qd must be 1...4096") }
    }
}

/// Errors on the guest/host wire. Descriptions are user-facing.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingSpec
    case badSpec(String)

    public var description: String {
        switch self {
        case .missingSpec: "no \(WorkloadSpec.parameterName)= token on the kernel command line"
        case .badSpec(let why): "bad \(WorkloadSpec.parameterName): \(why)"
        }
    }
}
