import BenchSpec
import GuestWire

/// Cells that share one guest: same workload and host I/O settings, one disk
/// each, with the null-co control of their disk size. Disk `i` is `cells[i]`.
public struct GuestGroup: Hashable, Sendable {
    /// 1-based, in matrix order.
    public var id: Int
    public var cells: [Cell]

    public init(id: Int, cells: [Cell]) {
        self.id = id
        self.cells = cells
    }

    /// Splits `cells` (matrix order) into shared-guest groups and the cells
    /// that keep a guest per run. A null cell joins every group whose cells
    /// have its disk size and workload; a group that would hold only null
    /// cells still runs (the ceiling alone).
    public static func plan(_ cells: [Cell], requested: Isolation?) -> (groups: [GuestGroup], perRun: [Cell]) {
        var perRun: [Cell] = []
        var keys: [String] = []
        var members: [String: [Cell]] = [:]
        var nulls: [Cell] = []
        for cell in cells {
            guard Isolation.resolved(for: cell, requested: requested) == .shared else {
                perRun.append(cell)
                continue
            }
            if cell.kind == .null {
                nulls.append(cell)
                continue
            }
            let key = groupKey(cell)
            if members[key] == nil { keys.append(key) }
            members[key, default: []].append(cell)
        }
        var groups: [GuestGroup] = []
        var placedNulls = Set<String>()
        for key in keys {
            var group = members[key] ?? []
            let sizes = Set(group.map(\.geometry.diskSize))
            for n in nulls where sizes.contains(n.geometry.diskSize) && n.workload == group[0].workload && n.build == group[0].build {
                group.append(n)
                placedNulls.insert(n.id)
            }
            groups.append(GuestGroup(id: groups.count + 1, cells: group))
        }
        let lonely = nulls.filter { !placedNulls.contains($0.id) }
        // One guest per build: a build cannot share a guest with another.
        var builds: [String] = []
        for n in lonely where !builds.contains(n.build) { builds.append(n.build) }
        for b in builds { groups.append(GuestGroup(id: groups.count + 1, cells: lonely.filter { $0.build == b })) }
        return (groups, perRun)
    }

    static func groupKey(_ cell: Cell) -> String {
        var w = cell.workload
        w.runtime = .seconds(0)
        w.ramp = .seconds(0)
        return "\(w)|\(cell.hostIO.cache)|\(cell.hostIO.aio)|\(cell.build)"
    }

    /// The groups that differ only in their QEMU build (same cells by
    /// `baseID`, in the same order), in matrix order: each family runs block
    /// by block, one guest per build per block, so the per-block ratio
    /// build/base pairs the builds as a shared guest pairs cells. A group
    /// with no counterpart is a family of one.
    public static func families(_ groups: [GuestGroup]) -> [[GuestGroup]] {
        var keys: [[String]] = []
        var members: [[String]: [GuestGroup]] = [:]
        for g in groups {
            let key = g.cells.map(\.baseID)
            if members[key] == nil { keys.append(key) }
            members[key, default: []].append(g)
        }
        return keys.compactMap { members[$0] }
    }

    /// The order of disk indices in `block` (1-based): a Fisher–Yates shuffle
    /// driven by SplitMix64 from the matrix seed, group and block, written
    /// out here so the order a seed gives never depends on the toolchain.
    public func order(block: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed ^ (UInt64(id) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(block) &* 0xD1B5_4A32_D192_ED03))
        return Self.shuffled(cells.count, &rng)
    }

    /// `0..<count` in a Fisher–Yates order drawn from `rng`.
    static func shuffled(_ count: Int, _ rng: inout SplitMix64) -> [Int] {
        var order = Array(0..<count)
        var i = order.count - 1
        while i > 0 {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    /// The order in which the builds of a family (indices `0..<builds`)
    /// boot their guests for the batch starting at `batch`: a seeded
    /// Fisher–Yates shuffle, so no build always runs first or last.
    public static func buildOrder(batch: Int, builds: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed ^ 0xA076_1D64_78BD_642F ^ (UInt64(batch) &* 0xE703_7ED1_A0B4_28DB))
        return shuffled(builds, &rng)
    }

    /// The guest's offset seed for one slot: distinct per cell and block, so
    /// blocks do not replay one offset sequence, and reproducible.
    public func slotSeed(disk: Int, block: Int, seed: UInt64) -> UInt64 {
        var rng = SplitMix64(seed: seed &+ UInt64(id) << 40 &+ UInt64(block) << 16 &+ UInt64(disk))
        return rng.next()
    }
}

/// When a paired run stops adding blocks.
public struct BlockBudget: Sendable {
    public var minBlocks: Int
    public var maxBlocks: Int
    /// Half-width target of every ratio CI (fraction); nil: exactly `minBlocks`.
    public var targetCI: Double?
    /// Wall seconds this group may use.
    public var seconds: Double?
    /// Block numbers this run takes: `firstBlock`, `firstBlock + blockStride`,
    /// …; shard I of N takes I, I+N, … so shards of one matrix run every
    /// cell in disjoint blocks and merge into one paired set.
    public var firstBlock = 1
    public var blockStride = 1
    /// What removing the images costs per extent they hold, reserved out
    /// of `seconds`: `RemovalProbe`'s figure for this host when it ran, else
    /// `ImageRemoval.quietHostSecondsPerExtent`.
    public var removalSecondsPerExtent = ImageRemoval.quietHostSecondsPerExtent

    public init(minBlocks: Int, maxBlocks: Int, targetCI: Double?, seconds: Double?) {
        self.minBlocks = minBlocks
        self.maxBlocks = maxBlocks
        self.targetCI = targetCI
        self.seconds = seconds
    }

    /// From the matrix: `repeat` blocks, or adaptive between min and max;
    /// with a shard, its share of the block numbers.
    public static func from(_ matrix: Matrix, shard: Shard? = nil) -> BlockBudget {
        let p = matrix.pairing
        var b: BlockBudget
        if p.targetCI == nil {
            b = BlockBudget(minBlocks: max(2, matrix.repetitions), maxBlocks: max(2, matrix.repetitions), targetCI: nil, seconds: p.budget?.seconds)
        } else {
            let lo = p.minBlocks ?? Pairing.defaultMinBlocks
            b = BlockBudget(minBlocks: lo, maxBlocks: max(lo, p.maxBlocks ?? Pairing.defaultMaxBlocks), targetCI: p.targetCI, seconds: p.budget?.seconds)
        }
        if let shard {
            b.firstBlock = shard.index
            b.blockStride = shard.count
        }
        return b
    }
}
