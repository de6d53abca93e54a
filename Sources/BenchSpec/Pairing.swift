import Qcow2Geometry

/// How cells are run: together in one guest (paired slots in randomized
/// complete blocks) or each run in a guest of its own.
public enum Isolation: String, Hashable, Sendable, Codable, CaseIterable {
    /// Cells of a group share one guest, one disk each.
    case shared
    /// One guest per run (what every cell did before shared guests).
    case guestPerRun = "guest-per-run"
}

/// The `[workload]` keys that shape a paired (shared-guest) run: which
/// isolation, and how many blocks. Without `target_ci` the run has exactly
/// `repeat` blocks; with it, blocks are added from `min_blocks` until every
/// cell's ratio CI half-width is at most the target, `max_blocks` are run,
/// or the `budget` of wall time is spent.
public struct Pairing: Hashable, Sendable {
    /// nil: the harness picks per cell (`Isolation.auto(for:)`).
    public var isolation: Isolation?
    /// Half-width of the 95% CI of each ratio, as a fraction (0.03 = 3%).
    public var targetCI: Double?
    public var minBlocks: Int?
    public var maxBlocks: Int?
    /// Wall-time budget of the whole matrix run.
    public var budget: TimeSpan?
    /// Cache-counter tracing of shared slots (`workload.trace`); nil: `defaultTrace`.
    public var trace: TraceMode?
    /// What an unset `workload.trace` means.
    public static let defaultTrace = TraceMode.sampled

    public init(isolation: Isolation? = nil, targetCI: Double? = nil, minBlocks: Int? = nil, maxBlocks: Int? = nil, budget: TimeSpan? = nil) {
        self.isolation = isolation
        self.targetCI = targetCI
        self.minBlocks = minBlocks
        self.maxBlocks = maxBlocks
        self.budget = budget
    }

    public static let blockRange = 2...1000
    public static let defaultMinBlocks = 5
    public static let defaultMaxBlocks = 200

    /// Canonical `key=value` lines for the matrix hash; empty when unset, so
    /// older matrices keep their hashes.
    var canonicalLines: [String] {
        var out: [String] = []
        if let isolation { out.append("workload.isolation=\(isolation.rawValue)") }
        if let targetCI { out.append("workload.target_ci=\(Self.percentText(targetCI))") }
        if let minBlocks { out.append("workload.min_blocks=\(minBlocks)") }
        if let maxBlocks { out.append("workload.max_blocks=\(maxBlocks)") }
        if let budget { out.append("workload.budget=\(budget)") }
        if let trace { out.append("workload.trace=\(trace.rawValue)") }
        return out
    }

    /// `3%`, `2.5%`.
    public static func percentText(_ fraction: Double) -> String {
        let p = fraction * 100
        return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
    }

    /// Parses `3%` (or `0.03`) into a fraction in (0, 0.5].
    public static func parseTarget(_ text: String, field: String) throws(InvalidValue) -> Double {
        let t = text.trimmingCharacters(in: " ")
        let value: Double?
        if t.hasSuffix("%") { value = Double(t.dropLast()).map { $0 / 100 } } else { value = Double(t) }
        guard let v = value, v.isFinite, v > 0, v <= 0.5 else {
            throw InvalidValue(field: field, value: text, rule: "must be a percentage above 0% and at most 50%, e.g. \"3%\"")
        }
        return v
    }
}

extension Isolation {
    /// Why `cell` cannot share a guest, or nil when it can. A cell keeps a
    /// guest of its own when its measurement needs the whole process or an
    /// untouched image:
    /// - idle phases (the clean interval acts on the whole process's idle time);
    /// - snapshot images (fully allocated: one per slot would not fit; fresh
    ///   and overlay images are made per slot instead, `needsImagePerSlot`).
    /// fio cells share too: the guest runs fio for a `drv=fio` slot, with
    /// its fixed ramp as the warm-up (`SlotCommand.driver`).
    /// A clean interval set on a shared cell releases entries between its
    /// slots, while other cells run: that is refused too (0, never, is not).
    public static func sharingObstacle(_ cell: Cell) -> String? {
        if !cell.workload.phases.isEmpty { return "idle phases need the whole guest" }
        if cell.kind == .qcow2 {
            if cell.state == .snapshot { return "a snapshot image is fully allocated: a copy per slot would not fit" }
            // 0 turns cleaning off: nothing is released between slots.
            if let interval = cell.cache.cacheCleanInterval.value, interval > 0 {
                return "cache_clean_interval acts between slots"
            }
        }
        return nil
    }

    /// Fresh and overlay images change when written: in a shared guest each
    /// slot gets an image of its own, made before its guest boots, so no slot
    /// inherits another's allocations (an overlay's backing file is shared,
    /// read-only).
    public static func needsImagePerSlot(_ cell: Cell) -> Bool {
        cell.kind == .qcow2 && (cell.state == .fresh || cell.state == .overlay)
    }

    /// The isolation a cell gets: the matrix's choice where possible, else
    /// shared unless the cell cannot share.
    public static func resolved(for cell: Cell, requested: Isolation?) -> Isolation {
        if requested == .guestPerRun { return .guestPerRun }
        return sharingObstacle(cell) == nil ? .shared : .guestPerRun
    }
}

/// Whether shared-guest slots are traced for cache counters
/// (`workload.trace`). What tracing costs was measured with `alternate` on
/// a 2-core TCG host (16G image, 128K to 2M L2 cache): traced over
/// untraced IOPS 0.878 (95% CI 0.723-1.066, 36 pairs), 1.046
/// (0.936-1.169, 36 pairs) and, from a sampled run, 0.804 (0.655-0.989,
/// 12 pairs); QEMU I/O-thread CPU per write 1.115 (1.013-1.227), 1.020
/// (0.943-1.104) and 1.131 (1.010-1.266). That does not rule out more than
/// 2%, so by default only every `sampleEvery`-th block is traced; all
/// cells of such a block are traced alike, so paired ratios see only the
/// difference in trace volume between cells. `full` is opt-in.
public enum TraceMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// No tracing: QEMU runs without trace options.
    case off
    /// Blocks 2, 2 + sampleEvery, 2 + 2 * sampleEvery, … are traced (not
    /// the first block, whose slots start on cold caches).
    case sampled
    /// Every measured window traced.
    case full
    /// Odd blocks traced, even blocks not: measures what tracing costs, as
    /// the paired ratio of a cell's traced block over the next untraced one.
    case alternate

    public static let sampleEvery = 4

    /// Whether slots of `block` (1-based) are traced.
    public func traces(block: Int) -> Bool {
        switch self {
        case .off: return false
        case .sampled: return block % Self.sampleEvery == 2 % Self.sampleEvery
        case .full: return true
        case .alternate: return block % 2 == 1
        }
    }
}
