/// One stretch of a multi-phase workload: keep writing, or stop all I/O.
/// Idle phases exist because `cache-clean-interval` only acts when the
/// guest is idle longer than the interval.
public enum WorkloadPhase: Hashable, Sendable, Codable, CustomStringConvertible {
    case write(millis: UInt32)
    case idle(millis: UInt32)

    public var millis: UInt32 {
        switch self {
        case .write(let ms), .idle(let ms): ms
        }
    }

    public var isWrite: Bool {
        if case .write = self { return true }
        return false
    }

    /// Kernel command line form: `w4000`, `i15000`.
    public var wire: String {
        switch self {
        case .write(let ms): "w\(ms)"
        case .idle(let ms): "i\(ms)"
        }
    }

    public init?(wire: Substring) {
        guard let kind = wire.first, let ms = UInt32(wire.dropFirst()), ms > 0 else { return nil }
        switch kind {
        case "w": self = .write(millis: ms)
        case "i": self = .idle(millis: ms)
        default: return nil
        }
    }

    /// `write 4s`, `idle 15s` (the matrix file's spelling).
    public var description: String {
        let t = millis % 1000 == 0 ? "\(millis / 1000)s" : "\(millis)ms"
        return "\(isWrite ? "write" : "idle") \(t)"
    }
}

/// Where random offsets fall: uniformly, or Zipf-skewed like fio's
/// `random_distribution=zipf:THETA` (a few hot blocks take most writes, so
/// a small cache covers the hot set).
public enum OffsetDistribution: Hashable, Sendable, Codable, CustomStringConvertible {
    case uniform
    /// Theta in thousandths (1200 = 1.2), so the value is exact on the wire.
    case zipf(thetaMillis: UInt32)

    /// `uniform`, `zipf:1.2`.
    public var description: String {
        switch self {
        case .uniform: return "uniform"
        case .zipf(let t):
            let frac = t % 1000
            let f = frac == 0 ? "" : "." + String(String(frac + 1000).dropFirst()).replacingTrailingZeros()
            return "zipf:\(t / 1000)\(f)"
        }
    }

    /// Kernel command line form: `zipf1200` (absent for uniform).
    public var wire: String? {
        if case .zipf(let t) = self { return "zipf\(t)" }
        return nil
    }

    public init?(wire: Substring) {
        guard wire.hasPrefix("zipf"), let t = UInt32(wire.dropFirst(4)), t > 0 else { return nil }
        self = .zipf(thetaMillis: t)
    }

    /// Parses `uniform` or `zipf:THETA` with THETA in (0, 10], up to three decimals.
    public init?(parsing text: String) {
        if text == "uniform" {
            self = .uniform
            return
        }
        guard text.hasPrefix("zipf:") else { return nil }
        let num = text.dropFirst(5)
        let parts = num.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = UInt32(parts[0]), parts[0].allSatisfy(\.isNumber) else { return nil }
        var frac: UInt32 = 0
        if parts.count == 2 {
            let f = parts[1]
            guard (1...3).contains(f.count), f.allSatisfy(\.isNumber), let v = UInt32(f) else { return nil }
            frac = v * [1, 100, 10, 1][f.count]
        }
        let t = whole * 1000 + frac
        guard t > 0, t <= 10_000 else { return nil }
        self = .zipf(thetaMillis: t)
    }
}

extension String {
    func replacingTrailingZeros() -> String {
        var s = Substring(self)
        while s.last == "0" { s = s.dropLast() }
        return String(s)
    }
}

extension WorkloadPhase {
    /// Encoded as its wire form (`"w4000"`), compact in every record.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let p = WorkloadPhase(wire: Substring(text)) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad phase \(text)"))
        }
        self = p
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(wire)
    }
}

extension OffsetDistribution {
    /// Encoded as its matrix spelling (`"zipf:1.2"`).
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let d = OffsetDistribution(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad distribution \(text)"))
        }
        self = d
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension ConsoleProtocol {
    /// Followed by one space and a label (`idle-start 2`, `idle-end 2`):
    /// printed at phase boundaries so the host can time them on its own
    /// clock, the one its memory samples use.
    public static let phaseMarker = "@@QCB-PHASE@@"
}

/// What one phase of a multi-phase run measured.
public struct PhaseResult: Hashable, Sendable, Codable {
    /// The phase as specified (`w4000`, `i15000`).
    public var phase: WorkloadPhase
    /// Writes completed inside the phase's window (0 for idle phases).
    public var ops: UInt64
    public var iops: Double
    /// Writes completed in each whole second of the phase: the first
    /// entries after an idle phase are the recovery while caches refill.
    public var perSecondOps: [UInt64]
    public var p50Us: Double
    public var p99Us: Double

    public init(phase: WorkloadPhase, ops: UInt64, iops: Double, perSecondOps: [UInt64], p50Us: Double, p99Us: Double) {
        self.phase = phase
        self.ops = ops
        self.iops = iops
        self.perSecondOps = perSecondOps
        self.p50Us = p50Us
        self.p99Us = p99Us
    }
}
