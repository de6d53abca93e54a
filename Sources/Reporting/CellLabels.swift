import BenchSpec
import Qcow2Geometry

/// Short names for cells: only what varies within the matrix, and of that
/// only what differs from the value most cells share ("L2 128K",
/// "snapshot · refcount 4M", "null-co"). Full cell IDs stay in CSV and JSON;
/// tables, plots and the progress line use these.
public struct CellLabels: Hashable, Sendable {
    private var labels: [String: String] = [:]

    public init(cells: [Cell]) {
        let qcow2 = cells.filter { $0.kind == .qcow2 }
        let dims = Self.dimensions.filter { d in Set(qcow2.map { d.value($0) }).count > 1 }.map { d in
            var d = d
            d.mode = Self.strictMode(qcow2.map { d.value($0) })
            return d
        }
        let sizes = Set(cells.map(\.geometry.diskSize)).count > 1
        let workloads = Set(cells.map(Self.workloadWithoutDriver)).count > 1
        let drivers = Set(cells.map(\.workload.driver)).count > 1
        let builds = Set(cells.map(\.build)).count > 1
        for cell in cells {
            var parts: [String]
            switch cell.kind {
            case .null: parts = ["null-co"]
            case .raw: parts = ["raw"]
            case .qcow2:
                // A value most cells share goes without saying: leaving it out
                // keeps labels unique (two cells reading alike would agree on
                // every dimension) and short ("snapshot · refcount 4M").
                parts = dims.filter { $0.value(cell) != $0.mode }.map { $0.label(cell) }
                if parts.isEmpty { parts = dims.map { $0.label(cell) } }
                // The driver alone does not say which disk: "qcow2 · fio".
                if parts == [cell.workload.driver.rawValue] { parts.insert("qcow2", at: 0) }
            }
            if cell.kind != .qcow2 && sizes { parts.append("\(cell.geometry.diskSize)") }
            if cell.kind != .qcow2 && workloads { parts.append("bs \(cell.workload.blockSize) qd \(cell.workload.iodepth)") }
            if cell.kind != .qcow2 && drivers { parts.append(cell.workload.driver.rawValue) }
            if parts.isEmpty { parts = ["qcow2"] }
            // Several QEMU builds: the build leads, so a row says whose it is.
            if builds { parts.insert(cell.build, at: 0) }
            labels[cell.id] = parts.joined(separator: " · ")
        }
        // Two cells may still read alike (a setting outside the dimensions):
        // fall back to the ID for those.
        var seen: [String: Int] = [:]
        for l in labels.values { seen[l, default: 0] += 1 }
        for (id, l) in labels where (seen[l] ?? 0) > 1 { labels[id] = id }
    }

    /// The short label of `cellID`, or the ID itself for an unknown cell.
    public func label(_ cellID: String) -> String { labels[cellID] ?? cellID }

    struct Dimension: Sendable {
        var value: @Sendable (Cell) -> String
        var label: @Sendable (Cell) -> String
        /// The value more cells share than any other (at least two), if one does.
        var mode: String? = nil
    }

    static func strictMode(_ values: [String]) -> String? {
        var counts: [String: Int] = [:]
        for v in values { counts[v, default: 0] += 1 }
        let ranked = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        guard let top = ranked.first, top.value >= 2 else { return nil }
        if ranked.count > 1, ranked[1].value == top.value { return nil }
        return top.key
    }

    static let dimensions: [Dimension] = [
        Dimension(value: { $0.state?.rawValue ?? "" }, label: { $0.state?.rawValue ?? "" }),
        Dimension(value: { "\($0.geometry.diskSize)" }, label: { "\($0.geometry.diskSize)" }),
        Dimension(value: { "\($0.geometry.clusterSize)" }, label: { "cluster \($0.geometry.clusterSize)" }),
        Dimension(value: { "\($0.geometry.refcountBits)" }, label: { "refcount_bits \($0.geometry.refcountBits)" }),
        Dimension(value: { "\($0.cache.cacheSize)" }, label: { "cache-size \($0.cache.cacheSize)" }),
        Dimension(value: { "\($0.cache.l2CacheSize)" }, label: { "L2 \($0.cache.l2CacheSize)" }),
        Dimension(value: { "\($0.cache.l2CacheEntrySize)" }, label: { "entry \($0.cache.l2CacheEntrySize)" }),
        Dimension(value: { "\($0.cache.refcountCacheSize)" }, label: { "refcount \($0.cache.refcountCacheSize)" }),
        Dimension(value: { "\($0.cache.cacheCleanInterval)" }, label: { "clean \($0.cache.cacheCleanInterval)" }),
        Dimension(value: { "\($0.hostIO.cache)/\($0.hostIO.aio)" }, label: { "cache=\($0.hostIO.cache) aio=\($0.hostIO.aio)" }),
        Dimension(value: { workloadWithoutDriver($0) }, label: { "bs \($0.workload.blockSize) qd \($0.workload.iodepth)" }),
        Dimension(value: { $0.workload.driver.rawValue }, label: { $0.workload.driver.rawValue }),
    ]

    /// The workload apart from the guest driver, which is its own dimension
    /// (`bench calibrate` varies only the driver: "L2 128K · fio").
    static func workloadWithoutDriver(_ cell: Cell) -> String {
        var w = cell.workload
        w.driver = .native
        return "\(w)"
    }
}
