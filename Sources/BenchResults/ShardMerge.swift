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

    public var description: String {
        switch self {
        case .noShards: "no shard directories given"
        case .empty(let source): "\(source): no records"
        case .mixedMatrices(let source, let hash, let otherSource, let otherHash):
            "cannot merge different matrices: \(otherSource) has matrix hash \(otherHash) but \(source) has \(hash); "
                + "merge only shards of one matrix file run with the same overrides"
        case .cellInSeveralShards(let id, let source, let otherSource):
            "cell \(id) is in both \(source) and \(otherSource); each cell belongs to one shard (was a directory given twice?)"
        }
    }
}

/// The records of several shards of one matrix run as one result set.
///
/// Refuses records of different matrices (by `Provenance.matrixHash`) and a
/// cell that appears in more than one shard. `sequence` is rewritten to stay
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
            if let other = owner[r.cellID], !cellsHere.contains(r.cellID) {
                throw .cellInSeveralShards(cellID: r.cellID, source: other, otherSource: shard.source)
            }
            owner[r.cellID] = shard.source
            cellsHere.insert(r.cellID)
            var record = r
            record.sequence = merged.count
            merged.append(record)
        }
    }
    return merged
}
