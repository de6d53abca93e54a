import BenchSpec

/// The records of one shard directory, and where they came from (for errors).
public struct ShardRecords: Sendable {
    public var source: String
    public var records: [RunRecord]

    public init(source: String, records: [RunRecord]) {
        self.source = source
        self.records = records
    }
}

/// Why shard directories cannot be merged into one result set.
public enum ShardMergeError: Error, Equatable, Sendable, CustomStringConvertible {
    case noShards
    case empty(source: String)
    /// Records of two matrices (or of one matrix with different overrides):
    /// their cells would not add up to one experiment.
    case mixedMatrices(source: String, hash: String, otherSource: String, otherHash: String)
    /// A cell measured in two shards: a shard was given twice, or the shards
    /// were not cut from one matrix run.
    case cellInSeveralShards(cellID: String, source: String, otherSource: String)
    /// Directories recorded as shards `I/N` must be all N of them, each once.
    case shardGivenTwice(shard: String, source: String, otherSource: String)
    case missingShards([Int], count: Int)
    case shardCountsDiffer(source: String, shard: String, otherSource: String, otherShard: String)
    case notAShard(source: String, otherSource: String, otherShard: String)

    public var description: String {
        switch self {
        case .noShards: "no shard directories given"
        case .empty(let source): "\(source): no records"
        case .mixedMatrices(let source, let hash, let otherSource, let otherHash):
            "cannot merge different matrices: \(otherSource) has matrix hash \(otherHash) but \(source) has \(hash); "
                + "merge only shards of one matrix file run with the same overrides"
        case .cellInSeveralShards(let id, let source, let otherSource):
            "cell \(id) is in both \(source) and \(otherSource); each cell belongs to one shard (was a directory given twice?)"
        case .shardGivenTwice(let shard, let source, let otherSource):
            "shard \(shard) is given twice: \(source) and \(otherSource); give each shard directory once"
        case .missingShards(let missing, let count):
            "missing shard\(missing.count == 1 ? "" : "s") \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")): merge needs all \(count) shards of the run"
        case .shardCountsDiffer(let source, let shard, let otherSource, let otherShard):
            "\(source) is shard \(shard) but \(otherSource) is shard \(otherShard): shards of one run share N"
        case .notAShard(let source, let otherSource, let otherShard):
            "\(source) is not a shard (it ran every cell) but \(otherSource) is shard \(otherShard)"
        }
    }
}

/// The records of several shards of one matrix run as one result set.
///
/// Refuses records of different matrices (by `Provenance.matrixHash`), a
/// cell that appears in more than one shard (for shared-guest slots: a cell
/// and block), and a missing or repeated shard. `sequence` is rewritten to stay
/// unique: the merged run order is the shards in the order given, each in
/// its own run order, numbered from 0. Everything else is kept as recorded,
/// provenance included (shards may come from different hosts; the report
/// shows that).
public func mergeShards(_ shards: [ShardRecords]) throws(ShardMergeError) -> [RunRecord] {
    guard let first = shards.first else { throw .noShards }
    guard let reference = first.records.first else { throw .empty(source: first.source) }
    let hash = reference.provenance.matrixHash
    var owner: [String: String] = [:]
    var merged: [RunRecord] = []
    for shard in shards {
        guard !shard.records.isEmpty else { throw .empty(source: shard.source) }
        var cellsHere: Set<String> = []
        for r in shard.records.sorted(by: { ($0.sequence, $0.cellID, $0.repetition) < ($1.sequence, $1.cellID, $1.repetition) }) {
            guard r.provenance.matrixHash == hash else {
                throw .mixedMatrices(
                    source: first.source, hash: hash, otherSource: shard.source, otherHash: r.provenance.matrixHash)
            }
            // A slot belongs to its block: shards of a shared-guest run hold
            // every cell, in disjoint blocks.
            let key = r.slot == nil ? r.cellID : "\(r.cellID)#block\(r.repetition)"
            if let other = owner[key], !cellsHere.contains(key) {
                throw .cellInSeveralShards(cellID: r.slot == nil ? r.cellID : "\(r.cellID) block \(r.repetition)", source: other, otherSource: shard.source)
            }
            owner[key] = shard.source
            cellsHere.insert(key)
            var record = r
            record.sequence = merged.count
            merged.append(record)
        }
    }
    try checkShardSet(shards)
    return merged
}

/// Every directory recorded as `I/N` (the first record's `provenance.shard`)
/// must be one of N distinct shards, all present. Records from before shards
/// were recorded carry none and are not checked.
func checkShardSet(_ shards: [ShardRecords]) throws(ShardMergeError) {
    let labelled = shards.map { ($0.source, $0.records.first?.provenance.shard) }
    guard let (firstSource, firstShard) = labelled.first(where: { $0.1 != nil }), let firstShard,
          let count = Int(firstShard.split(separator: "/").last ?? "") else { return }
    var seen: [Int: String] = [:]
    for (source, shard) in labelled {
        guard let shard else { throw .notAShard(source: source, otherSource: firstSource, otherShard: firstShard) }
        let parts = shard.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] == count else {
            throw .shardCountsDiffer(source: firstSource, shard: firstShard, otherSource: source, otherShard: shard)
        }
        if let other = seen[parts[0]] { throw .shardGivenTwice(shard: shard, source: other, otherSource: source) }
        seen[parts[0]] = source
    }
    let missing = (1...max(1, count)).filter { seen[$0] == nil }
    if !missing.isEmpty { throw .missingShards(missing, count: count) }
}
