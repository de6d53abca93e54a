import BenchResults
import BenchSpec
import Qcow2Geometry
import Testing

@testable import Reporting

@Suite("Shards and merging")
struct ShardMergeTests {
    /// 2 states x 2 clusters x 3 L2 sizes + null + raw = 14 cells.
    static let matrix = Matrix(
        name: "sharded", repetitions: 2, clusterSizes: [.kib(64), .kib(128)], states: [.preallocated, .fresh],
        l2CacheSizes: [.value(.kib(256)), .value(.mib(1)), .default], includeNull: true, includeRaw: true)

    /// What running `cells` would record: `repetitions` runs per cell.
    static func run(_ cells: [Cell], hash: String = matrix.hash, base: Double = 1000) -> [RunRecord] {
        var p = Fixture.provenance
        p.matrixHash = hash
        var out: [RunRecord] = []
        for rep in 1...matrix.repetitions {
            for (i, cell) in cells.enumerated() {
                let iops = base + Double(i * 10 + rep)
                out.append(
                    RunRecord(
                        cell: cell, repetition: rep, sequence: out.count, status: .ok,
                        result: Fixture.result(iops, p50: 1e6 / iops, p99: 3e6 / iops), provenance: p, prepSeconds: 0.1,
                        wallSeconds: 10))
            }
        }
        return out
    }

    @Test("shards are disjoint, cover the matrix, keep its order and differ in size by at most one", arguments: [1, 2, 3, 5, 14, 20])
    func shardsPartitionTheMatrix(count: Int) throws {
        let cells = Self.matrix.cells()
        #expect(cells.count == 14)
        let shards = try (1...count).map { try Shard(parsing: "\($0)/\(count)").select(cells) }
        let ids = shards.flatMap { $0.map(\.id) }
        #expect(ids.count == cells.count, "every cell in exactly one shard")
        #expect(Set(ids) == Set(cells.map(\.id)))
        for shard in shards {
            let positions = shard.compactMap { c in cells.firstIndex(of: c) }
            #expect(positions == positions.sorted(), "matrix order kept")
        }
        let sizes = shards.map(\.count)
        #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1)
    }

    @Test("shard assignment is stable: the same matrix gives the same shards")
    func deterministic() throws {
        let shard = try Shard(parsing: "2/3")
        let again = Matrix(
            name: "sharded", repetitions: 2, clusterSizes: [.kib(64), .kib(128)], states: [.preallocated, .fresh],
            l2CacheSizes: [.value(.kib(256)), .value(.mib(1)), .default], includeNull: true, includeRaw: true)
        #expect(shard.select(Self.matrix.cells()) == shard.select(again.cells()))
        // Round-robin: positions 1, 4, 7, ... of the matrix order.
        #expect(shard.select(Self.matrix.cells()).map(\.id) == stride(from: 1, to: 14, by: 3).map { Self.matrix.cells()[$0].id })
    }

    @Test(
        "malformed --shard values are one-line errors",
        arguments: ["0/3", "4/3", "1/0", "3", "a/b", "1/3/5", "-1/3", "+1/3", " 1/3", "1/ 3", "", "/3", "1/"])
    func badShard(text: String) {
        #expect(throws: InvalidValue(field: "--shard", value: text, rule: Shard.rule)) { try Shard(parsing: text) }
    }

    @Test("merging the shards of a matrix gives the cells and summaries of one unsharded run")
    func mergeEqualsOneRun() throws {
        let cells = Self.matrix.cells()
        let whole = ResultSet(records: Self.run(cells))
        // Each shard runs its own cells, with its own sequence numbers from 0,
        // and the same IOPS per cell as the unsharded run.
        let shards = try (1...3).map { i -> ShardRecords in
            let mine = try Shard(parsing: "\(i)/3").select(cells)
            let records = Self.run(cells).filter { r in mine.contains(r.cell) }.enumerated().map { n, r in
                var r = r
                r.sequence = n
                return r
            }
            return ShardRecords(source: "shard-\(i)", records: records)
        }
        let merged = try mergeShards(shards)
        #expect(merged.count == cells.count * Self.matrix.repetitions)
        #expect(merged.map(\.sequence) == Array(0..<merged.count), "sequence rewritten to stay unique")
        let set = ResultSet(records: merged)
        #expect(set.cells.map(\.cellID) == whole.cells.map(\.cellID))
        #expect(set.cells.map(\.iops) == whole.cells.map(\.iops))
        #expect(set.cells.map(\.vsCeilingPercent) == whole.cells.map(\.vsCeilingPercent))
        #expect(set.cells.map(\.vsBestPercent) == whole.cells.map(\.vsBestPercent))
        // Shards in the order given, each in its own run order.
        #expect(merged.prefix(shards[0].records.count).map(\.cellID) == shards[0].records.map(\.cellID))
    }

    @Test("shards of different matrices are refused, naming both hashes")
    func mixedMatrices() throws {
        let cells = Self.matrix.cells()
        let one = ShardRecords(source: "a", records: Self.run(try Shard(parsing: "1/2").select(cells)))
        let other = ShardRecords(source: "b", records: Self.run(try Shard(parsing: "2/2").select(cells), hash: "0123456789abcdef"))
        #expect(throws: ShardMergeError.mixedMatrices(source: "a", hash: Self.matrix.hash, otherSource: "b", otherHash: "0123456789abcdef")) {
            try mergeShards([one, other])
        }
        let message = ShardMergeError.mixedMatrices(source: "a", hash: "h1", otherSource: "b", otherHash: "h2").description
        #expect(message.contains("h1") && message.contains("h2") && !message.contains("\n"))
    }

    @Test("a cell in two shards (a directory given twice) is refused")
    func duplicateShard() throws {
        let shard = ShardRecords(source: "a", records: Self.run(try Shard(parsing: "1/2").select(Self.matrix.cells())))
        #expect(throws: ShardMergeError.self) { try mergeShards([shard, shard]) }
        #expect(throws: ShardMergeError.noShards) { try mergeShards([]) }
        #expect(throws: ShardMergeError.empty(source: "b")) { try mergeShards([shard, ShardRecords(source: "b", records: [])]) }
    }

    /// Records of shard `i` of `n`, labelled as `--shard i/n` labels them.
    static func labelled(_ i: Int, of n: Int) throws -> ShardRecords {
        let cells = try Shard(parsing: "\(i)/\(n)").select(matrix.cells())
        let records = run(cells).map { r -> RunRecord in
            var r = r
            r.provenance.shard = "\(i)/\(n)"
            return r
        }
        return ShardRecords(source: "s\(i)", records: records)
    }

    @Test func mergeNeedsEveryShardExactlyOnce() throws {
        let all = try (1...3).map { try Self.labelled($0, of: 3) }
        #expect(try mergeShards(all).count == Self.matrix.cells().count * Self.matrix.repetitions)
        #expect(throws: ShardMergeError.missingShards([2], count: 3)) { try mergeShards([all[0], all[2]]) }
        #expect(ShardMergeError.missingShards([2], count: 3).description == "missing shard 2/3: merge needs all 3 shards of the run")
        var twice = all[1]
        twice.source = "copy"
        #expect(throws: ShardMergeError.self) { try mergeShards(all + [twice]) }
        let otherCount = try Self.labelled(1, of: 2)
        #expect(throws: ShardMergeError.shardCountsDiffer(source: "s1", shard: "1/3", otherSource: "s1", otherShard: "1/2")) {
            try mergeShards([all[0], all[1], all[2], ShardRecords(source: "s1", records: otherCount.records.map { r in
                var r = r
                r.cellID += "-x"
                return r
            })])
        }
    }

    /// Slots of a shared guest: every shard holds every cell, in its own blocks.
    @Test func slotShardsHoldEveryCellInDisjointBlocks() throws {
        func slots(_ shard: Int, blocks: [Int]) -> ShardRecords {
            var out: [RunRecord] = []
            for b in blocks {
                for cell in Self.matrix.cells().prefix(2) {
                    var r = PairedRatioTests.slot(cell, block: b, disk: 0, iops: 1000)
                    r.provenance.shard = "\(shard)/2"
                    r.provenance.matrixHash = Self.matrix.hash
                    out.append(r)
                }
            }
            return ShardRecords(source: "s\(shard)", records: out)
        }
        #expect(try mergeShards([slots(1, blocks: [1, 3]), slots(2, blocks: [2, 4])]).count == 8)
        #expect(throws: ShardMergeError.self) { try mergeShards([slots(1, blocks: [1, 3]), slots(2, blocks: [3, 4])]) }
    }
}
