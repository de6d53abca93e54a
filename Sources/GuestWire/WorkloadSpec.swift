/// What the guest driver must do, as it travels on the kernel command line
/// (the only channel into a guest with no disk of its own and no network).
///
/// Encoded as one token, `qcb.spec=v1,bs=4096,qd=32,...`, so it survives the
/// kernel's own parameter parsing untouched and can be read from /proc/cmdline.
/// `drv=` is written only for a driver other than `native`, so tokens (and
/// JSON) of native runs are the same as before the field existed, and older
/// tokens without it still decode.
public struct WorkloadSpec: Hashable, Sendable, Codable {
    public static let parameterName = "qcb.spec"
    /// I/Os in flight the driver accepts; the host refuses anything else
    /// before a guest starts.
    public static let iodepthRange: ClosedRange<UInt32> = 1...1024
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
    /// Which program generates the I/O.
    public var driver: GuestDriver
    /// Where offsets fall (`dist=` on the wire, absent for uniform).
    public var distribution: OffsetDistribution
    /// Phases after the ramp (`ph=w4000.i15000.w4000`); empty means one
    /// write phase of `runtimeMillis`.
    public var phases: [WorkloadPhase]

    public init(
        blockSize: UInt32 = 4096, iodepth: UInt32 = 32, rampMillis: UInt32 = 2000, runtimeMillis: UInt32 = 10000,
        spanBytes: UInt64 = 0, seed: UInt64 = 1, device: String = "vda", driver: GuestDriver = .native,
        distribution: OffsetDistribution = .uniform, phases: [WorkloadPhase] = []
    ) {
        self.distribution = distribution
        self.phases = phases
        self.blockSize = blockSize
        self.iodepth = iodepth
        self.rampMillis = rampMillis
        self.runtimeMillis = runtimeMillis
        self.spanBytes = spanBytes
        self.seed = seed
        self.device = device
        self.driver = driver
    }

    /// The kernel command line token.
    public var kernelParameter: String {
        let base = "\(Self.parameterName)=\(Self.wireVersion),bs=\(blockSize),qd=\(iodepth),ramp=\(rampMillis),rt=\(runtimeMillis),span=\(spanBytes),seed=\(seed),dev=\(device)"
        var token = driver == .native ? base : base + ",drv=\(driver.rawValue)"
        if let d = distribution.wire { token += ",dist=\(d)" }
        if !phases.isEmpty { token += ",ph=" + phases.map(\.wire).joined(separator: ".") }
        return token
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
        let known: Set<String> = ["bs", "qd", "ramp", "rt", "span", "seed", "dev", "drv", "dist", "ph"]
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
        if let drv = values["drv"] {
            guard let d = GuestDriver(rawValue: String(drv)) else {
                throw WireError.badSpec("bad drv \(drv): expected one of \(GuestDriver.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            driver = d
        } else {
            driver = .native
        }
        if let d = values["dist"] {
            guard let dist = OffsetDistribution(wire: d) else { throw WireError.badSpec("bad dist \(d)") }
            distribution = dist
        } else {
            distribution = .uniform
        }
        if let ph = values["ph"] {
            var list: [WorkloadPhase] = []
            for w in ph.split(separator: ".") {
                guard let p = WorkloadPhase(wire: w) else { throw WireError.badSpec("bad phase \(w)") }
                list.append(p)
            }
            guard list.first?.isWrite == true else { throw WireError.badSpec("ph must start with a write phase") }
            phases = list
        } else {
            phases = []
        }
        guard blockSize >= 512, blockSize % 512 == 0 else { throw WireError.badSpec("bs must be a multiple of 512") }
        guard Self.iodepthRange.contains(iodepth) else { throw WireError.badSpec("qd must be \(Self.iodepthRange)") }
    }
}

extension WorkloadSpec {
    private enum CodingKeys: String, CodingKey {
        case blockSize, iodepth, rampMillis, runtimeMillis, spanBytes, seed, device, driver, distribution, phases
    }

    /// Records written before `driver` existed have no such key: they were native.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        blockSize = try c.decode(UInt32.self, forKey: .blockSize)
        iodepth = try c.decode(UInt32.self, forKey: .iodepth)
        rampMillis = try c.decode(UInt32.self, forKey: .rampMillis)
        runtimeMillis = try c.decode(UInt32.self, forKey: .runtimeMillis)
        spanBytes = try c.decode(UInt64.self, forKey: .spanBytes)
        seed = try c.decode(UInt64.self, forKey: .seed)
        device = try c.decode(String.self, forKey: .device)
        driver = try c.decodeIfPresent(GuestDriver.self, forKey: .driver) ?? .native
        distribution = try c.decodeIfPresent(OffsetDistribution.self, forKey: .distribution) ?? .uniform
        phases = try c.decodeIfPresent([WorkloadPhase].self, forKey: .phases) ?? []
    }

    /// Leaves `driver` out when native, so native records keep their old bytes.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(blockSize, forKey: .blockSize)
        try c.encode(iodepth, forKey: .iodepth)
        try c.encode(rampMillis, forKey: .rampMillis)
        try c.encode(runtimeMillis, forKey: .runtimeMillis)
        try c.encode(spanBytes, forKey: .spanBytes)
        try c.encode(seed, forKey: .seed)
        try c.encode(device, forKey: .device)
        if driver != .native { try c.encode(driver, forKey: .driver) }
        if distribution != .uniform { try c.encode(distribution, forKey: .distribution) }
        if !phases.isEmpty { try c.encode(phases, forKey: .phases) }
    }

    /// The phases the driver runs after the ramp.
    public var effectivePhases: [WorkloadPhase] { phases.isEmpty ? [.write(millis: runtimeMillis)] : phases }
}

/// Which program generates the I/O inside the guest.
public enum GuestDriver: String, Hashable, Sendable, Codable, CaseIterable {
    /// bench-guest's own libaio loop: the least CPU per I/O, so under TCG it
    /// shows the most of the disk's behaviour.
    case native
    /// fio with the equivalent job: the reference users already trust.
    case fio
}

/// Errors on the guest/host wire. Descriptions are user-facing.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingSpec
    case badSpec(String)
    /// fio's report (or its IOPS log) could not be read into a `GuestResult`.
    case badFioReport(String)

    public var description: String {
        switch self {
        case .missingSpec: "no \(WorkloadSpec.parameterName)= token on the kernel command line"
        case .badSpec(let why): "bad \(WorkloadSpec.parameterName): \(why)"
        case .badFioReport(let why): "fio's JSON report is unusable: \(why)"
        }
    }
}
