@testable import BenchSpec

/// Matrix texts shared by the suites.
enum Fixtures {
    /// The full example of the matrix file format (all keys, one exclusion).
    static let fullExample = """
        name = "default"
        description = "L2 cache coverage sweep ..."
        [workload]
        block_size = "4K"
        iodepth = 32
        ramp = "2s"
        runtime = "8s"
        repeat = 3
        span = "100%"          # percent or size
        seed = 1               # optional, default 1: seeds run order + guest offsets
        [image]
        disk_size = ["16G"]
        cluster_size = ["64K"]
        state = ["preallocated"]   # preallocated | fresh
        refcount_bits = [16]       # optional, default [16]
        [cache]
        l2_cache_size = ["64K", "256K", "1M", "default"]
        l2_cache_entry_size = ["default"]
        refcount_cache_size = ["default"]
        cache_clean_interval = ["default"]   # integers (seconds) or "default"; also accept strings like "0", "5s"
        [host]
        cache = ["none"]       # HostIO.allowedCache
        aio = ["native"]       # HostIO.allowedAio
        [reference]
        null = true            # add one null-co cell per distinct (disk_size, workload)
        raw = true             # add one raw cell per distinct (disk_size, host cache, aio)
        [[exclude]]            # optional, any number; drops qcow2 cells matching ALL given keys
        state = "fresh"
        l2_cache_size = "64K"
        """

    /// The smallest valid file: everything else takes defaults.
    static let minimal = """
        name = "t"
        """

    static func parse(_ toml: String, source: String = "m.toml") throws -> Matrix {
        try Matrix.parse(toml: toml, source: source)
    }

    /// The one-line message `parse` throws for `toml`, or nil if it parses.
    static func error(_ toml: String, source: String = "m.toml") -> String? {
        do {
            _ = try Matrix.parse(toml: toml, source: source)
            return nil
        } catch {
            return error.description
        }
    }
}
