import Qcow2Geometry
import Testing

@testable import BenchSpec

/// Every rule, with the exact one-line message the CLI prints.
@Suite("Matrix validation messages")
struct MatrixValidationTests {
    private func expectError(_ toml: String, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Fixtures.error(toml) == message, sourceLocation: sourceLocation)
    }

    @Test func syntaxError() {
        expectError(
            """
            name = "x"
            [cache]
            l2_cache_size = ["64K",
            """,
            "m.toml: TOML syntax error at line 3: Error while parsing array: encountered end-of-file")
    }

    @Test func duplicateKeyIsASyntaxError() {
        expectError(
            """
            [workload]
            iodepth = 1
            iodepth = 2
            """,
            "m.toml: TOML syntax error at line 3: Error while parsing key-value pair: cannot redefine existing integer 'iodepth'")
    }

    @Test func unknownKeys() {
        expectError(
            "[cache]\nl2_size = [\"1M\"]",
            "m.toml: unknown key 'cache.l2_size' (allowed: l2_cache_size, l2_cache_entry_size, refcount_cache_size, cache_clean_interval, cache_size)")
        expectError(
            "nmae = \"x\"",
            "m.toml: unknown key 'nmae' (allowed: name, description, workload, image, cache, host, reference, exclude)")
        expectError(
            "[workload]\nqd = 4",
            "m.toml: unknown key 'workload.qd' (allowed: block_size, iodepth, ramp, runtime, repeat, span, seed, driver, distribution, phases, isolation, target_ci, min_blocks, max_blocks, budget, trace)")
        expectError(
            "[image]\nsize = \"1G\"",
            "m.toml: unknown key 'image.size' (allowed: disk_size, cluster_size, state, refcount_bits)")
        expectError(
            "[host]\nio = \"native\"",
            "m.toml: unknown key 'host.io' (allowed: cache, aio, qemu_build)")
        expectError(
            "[reference]\nnull_co = true",
            "m.toml: unknown key 'reference.null_co' (allowed: null, raw)")
        expectError(
            "[cache.l2_cache_size]\nx = 1",
            "m.toml: cache.l2_cache_size: invalid value \"{x = 1}\": must be a size such as \"64K\", a number of bytes, or \"default\", not a table")
    }

    @Test func excludeKeyMustBeAnAxis() {
        expectError(
            """
            [[exclude]]
            iodepth = 32
            """,
            "m.toml: unknown key 'exclude[1].iodepth' (allowed: disk_size, cluster_size, state, refcount_bits, l2_cache_size, l2_cache_entry_size, refcount_cache_size, cache_clean_interval, cache_size, cache, aio)")
        expectError(
            """
            [[exclude]]
            state = "fresh"
            [[exclude]]
            l2_size = "64K"
            """,
            "m.toml: unknown key 'exclude[2].l2_size' (allowed: disk_size, cluster_size, state, refcount_bits, l2_cache_size, l2_cache_entry_size, refcount_cache_size, cache_clean_interval, cache_size, cache, aio)")
        expectError(
            """
            [host]
            qemu_build = ["base", "patched"]
            [[exclude]]
            qemu_build = "patched"
            """,
            "m.toml: exclude[1].qemu_build: invalid value \"patched\": an exclusion cannot name a build: every build runs every cell, so that each cell pairs across builds (allowed: disk_size, cluster_size, state, refcount_bits, l2_cache_size, l2_cache_entry_size, refcount_cache_size, cache_clean_interval, cache_size, cache, aio)")
    }

    @Test func excludeValuesAreCheckedLikeAxisValues() {
        expectError(
            "[[exclude]]\nl2_cache_size = \"1.5M\"",
            "m.toml: exclude[1].l2_cache_size: invalid value \"1.5M\": expected a whole number of bytes greater than zero, optionally with a K, M, G, T, P or E suffix (powers of 1024), e.g. 64K or 16G")
        expectError(
            "[[exclude]]\nl2_cache_size = [\"64K\", \"1M\"]",
            "m.toml: exclude[1].l2_cache_size: invalid value \"[64K, 1M]\": must be a single value (use one [[exclude]] table per combination), not an array")
        expectError(
            "exclude = 3",
            "m.toml: exclude: invalid value \"3\": must be an array of tables ([[exclude]]), not an integer")
        expectError(
            "exclude = [\"fresh\"]",
            "m.toml: exclude[1]: invalid value \"fresh\": must be a table ([[exclude]]), not a string")
    }

    @Test func wrongTypes() {
        expectError(
            "[workload]\niodepth = \"32\"",
            "m.toml: workload.iodepth: invalid value \"32\": must be an integer, not a string")
        expectError(
            "[workload]\nrepeat = 2.5",
            "m.toml: workload.repeat: invalid value \"2.5\": must be an integer, not a floating-point number")
        expectError(
            "name = 7",
            "m.toml: name: invalid value \"7\": must be a string, not an integer")
        expectError(
            "[reference]\nnull = \"yes\"",
            "m.toml: reference.null: invalid value \"yes\": must be true or false, not a string")
        expectError(
            "[image]\nrefcount_bits = [\"16\"]",
            "m.toml: image.refcount_bits: invalid value \"16\": must be an integer, not a string")
        expectError(
            "[image]\ndisk_size = [true]",
            "m.toml: image.disk_size: invalid value \"true\": must be a size such as \"64K\" or a number of bytes, not a boolean")
        expectError(
            "[host]\ncache = [[\"none\"]]",
            "m.toml: host.cache: invalid value \"[none]\": must be a string, not an array")
        expectError(
            "workload = 3",
            "m.toml: workload: invalid value \"3\": must be a table ([workload]), not an integer")
        expectError(
            "[workload]\nruntime = true",
            "m.toml: workload.runtime: invalid value \"true\": must be a duration such as \"8s\" or a number of seconds, not a boolean")
        expectError(
            "[cache]\ncache_clean_interval = [1.5]",
            "m.toml: cache.cache_clean_interval: invalid value \"1.5\": must be a number of seconds or \"default\", not a floating-point number")
    }

    @Test func emptyAxes() {
        expectError(
            "[cache]\nl2_cache_size = []",
            "m.toml: cache.l2_cache_size: invalid value \"[]\": an axis must list at least one value")
        expectError(
            "[host]\naio = []",
            "m.toml: host.aio: invalid value \"[]\": an axis must list at least one value")
    }

    @Test func duplicateAxisValues() {
        expectError(
            "[cache]\nl2_cache_size = [\"64K\", \"1M\", 65536]",
            "m.toml: cache.l2_cache_size: invalid value \"64K\": appears twice; list each value once (sizes compare by value, so 64K and 65536 are the same)")
    }

    @Test func malformedSizes() {
        expectError(
            "[cache]\nl2_cache_size = [\"64Q\"]",
            "m.toml: cache.l2_cache_size: invalid value \"64Q\": expected a whole number of bytes greater than zero, optionally with a K, M, G, T, P or E suffix (powers of 1024), e.g. 64K or 16G")
        expectError(
            "[image]\ndisk_size = [\"\"]",
            "m.toml: image.disk_size: invalid value \"\": expected a whole number of bytes greater than zero, optionally with a K, M, G, T, P or E suffix (powers of 1024), e.g. 64K or 16G")
        expectError(
            "[workload]\nblock_size = \"4 KB\"",
            "m.toml: workload.block_size: invalid value \"4 KB\": expected a whole number of bytes greater than zero, optionally with a K, M, G, T, P or E suffix (powers of 1024), e.g. 64K or 16G")
        expectError(
            "[cache]\nl2_cache_size = [-1]",
            "m.toml: cache.l2_cache_size: invalid value \"-1\": expected a whole number of bytes greater than zero, optionally with a K, M, G, T, P or E suffix (powers of 1024), e.g. 64K or 16G")
    }

    @Test func malformedDurations() {
        expectError(
            "[workload]\nruntime = \"8 sec\"",
            "m.toml: workload.runtime: invalid value \"8 sec\": expected a whole number with a unit, ms, s, m or h (e.g. 500ms, 8s, 2m), greater than zero; at most 24h")
        expectError(
            "[workload]\nruntime = \"0s\"",
            "m.toml: workload.runtime: invalid value \"0s\": expected a whole number with a unit, ms, s, m or h (e.g. 500ms, 8s, 2m), greater than zero; at most 24h")
        expectError(
            "[workload]\nramp = \"1.5s\"",
            "m.toml: workload.ramp: invalid value \"1.5s\": expected a whole number with a unit, ms, s, m or h (e.g. 500ms, 8s, 2m); at most 24h")
        expectError(
            "[cache]\ncache_clean_interval = [\"5m\"]",
            "m.toml: cache.cache_clean_interval: invalid value \"5m\": expected a whole number of seconds from 0 to 4294967295 (0 disables cleaning), or \"default\"")
        expectError(
            "[cache]\ncache_clean_interval = [-1]",
            "m.toml: cache.cache_clean_interval: invalid value \"-1\": expected a whole number of seconds from 0 to 4294967295 (0 disables cleaning), or \"default\"")
    }

    @Test func workloadRules() {
        expectError(
            "[workload]\nrepeat = 0",
            "m.toml: workload.repeat: invalid value \"0\": must be from 1 to 100")
        expectError(
            "[workload]\nrepeat = 101",
            "m.toml: workload.repeat: invalid value \"101\": must be from 1 to 100")
        expectError(
            "[workload]\niodepth = 0",
            "m.toml: workload.iodepth: invalid value \"0\": must be from 1 to 1024")
        expectError(
            "[workload]\nblock_size = \"1000\"",
            "m.toml: workload.block_size: invalid value \"1000\": must be a multiple of 512 bytes, at most 16M (O_DIRECT)")
        expectError(
            "[workload]\nspan = \"0%\"",
            "m.toml: workload.span: invalid value \"0%\": a percentage must be a whole number from 1% to 100%")
        expectError(
            "[workload]\nspan = \"2K\"",
            "m.toml: workload.span: invalid value \"2K\": must cover at least one block (4K) of the disk; on 16G it covers 2048 bytes")
        expectError(
            "[workload]\nspan = \"6K\"",
            "m.toml: workload.span: invalid value \"6K\": must be a whole number of blocks (a multiple of 4K), or a percentage")
        expectError(
            "[workload]\nblock_size = \"2M\"\n[image]\ndisk_size = [\"1M\"]",
            "m.toml: workload.block_size: invalid value \"2M\": is larger than the disk (1M); must be at most the disk size")
        expectError(
            "[workload]\niodepth = 1025",
            "m.toml: workload.iodepth: invalid value \"1025\": must be from 1 to 1024")
        expectError(
            "[workload]\nseed = -1",
            "m.toml: workload.seed: invalid value \"-1\": must be a whole number from 0 to 9223372036854775807")
        expectError(
            "name = \"my matrix\"",
            "m.toml: name: invalid value \"my matrix\": must be 1 to 64 characters: letters, digits, '-', '_' or '.'")
    }

    @Test func imageRules() {
        expectError(
            "[image]\ncluster_size = [\"48K\"]",
            "m.toml: image.cluster_size: invalid value \"48K\": qcow2 cluster sizes are powers of two from 512 to 2M")
        expectError(
            "[image]\ncluster_size = [\"256\"]",
            "m.toml: image.cluster_size: invalid value \"256\": qcow2 cluster sizes are powers of two from 512 to 2M")
        expectError(
            "[image]\ncluster_size = [\"4M\"]",
            "m.toml: image.cluster_size: invalid value \"4M\": qcow2 cluster sizes are powers of two from 512 to 2M")
        expectError(
            "[image]\nrefcount_bits = [12]",
            "m.toml: image.refcount_bits: invalid value \"12\": refcount_bits must be a power of two from 1 to 64")
        expectError(
            "[image]\ndisk_size = [\"512K\"]",
            "m.toml: image.disk_size: invalid value \"512K\": must be at least 1M and a multiple of 512 bytes")
        expectError(
            "[image]\ndisk_size = [1048577]",
            "m.toml: image.disk_size: invalid value \"1048577\": must be at least 1M and a multiple of 512 bytes")
        expectError(
            "[image]\nstate = [\"sparse\"]",
            "m.toml: image.state: invalid value \"sparse\": must be one of preallocated, allocated, fresh, snapshot, overlay")
    }

    @Test func cacheRules() {
        expectError(
            "[cache]\nl2_cache_entry_size = [\"128K\"]",
            "m.toml: cache.l2_cache_entry_size: invalid value \"128K\": must be a power of two from 512 to the cluster size (64K)")
        expectError(
            "[cache]\nl2_cache_entry_size = [\"3K\"]",
            "m.toml: cache.l2_cache_entry_size: invalid value \"3K\": must be a power of two from 512 to the cluster size (64K)")
        // 4K: the default entry size below full coverage, so 2 entries need 8K.
        expectError(
            "[cache]\nl2_cache_size = [\"4K\"]",
            "m.toml: cache.l2_cache_size: invalid value \"4K\": must hold at least 2 L2 cache entries of 4K (at least 8K); QEMU would silently raise it")
        // Checked per cell: an 8K entry fits 64K clusters but not 4K ones.
        expectError(
            """
            [image]
            cluster_size = ["64K", "4K"]
            [cache]
            l2_cache_size = ["1M"]
            l2_cache_entry_size = ["8K"]
            """,
            "m.toml: cache.l2_cache_entry_size: invalid value \"8K\": must be a power of two from 512 to the cluster size (4K)")
        // A pinned entry size raises the minimum cache size.
        expectError(
            """
            [cache]
            l2_cache_size = ["64K"]
            l2_cache_entry_size = ["64K"]
            """,
            "m.toml: cache.l2_cache_size: invalid value \"64K\": must hold at least 2 L2 cache entries of 64K (at least 128K); QEMU would silently raise it")
        expectError(
            "[cache]\nrefcount_cache_size = [\"64K\"]",
            "m.toml: cache.refcount_cache_size: invalid value \"64K\": must hold at least 4 refcount blocks of the cluster size 64K (at least 256K); QEMU would silently raise it")
    }

    @Test func hostRules() {
        expectError(
            "[host]\ncache = [\"writeback2\"]",
            "m.toml: host.cache: invalid value \"writeback2\": must be one of none, writeback, writethrough, directsync, unsafe")
        expectError(
            "[host]\naio = [\"posix\"]",
            "m.toml: host.aio: invalid value \"posix\": must be one of native, threads, io_uring")
        expectError(
            "[host]\ncache = [\"writeback\"]",
            "m.toml: host.aio: invalid value \"native\": needs O_DIRECT, but host.cache \"writeback\" is buffered and QEMU refuses the pair; use cache none or directsync, aio threads or io_uring, or an [[exclude]] with cache = \"writeback\" and aio = \"native\"")
    }

    @Test func excludesThatDropEveryCell() {
        expectError(
            """
            [cache]
            l2_cache_size = ["64K", "1M"]
            [reference]
            null = true
            [[exclude]]
            l2_cache_size = "64K"
            [[exclude]]
            l2_cache_size = "1M"
            """,
            "m.toml: exclude: the [[exclude]] tables drop every qcow2 cell; nothing would be measured")
        expectError(
            "[[exclude]]",
            "m.toml: exclude: the [[exclude]] tables drop every qcow2 cell; nothing would be measured")
    }

    @Test func tooManyCells() {
        let values = (1...22).map { "\"\($0)M\"" }.joined(separator: ", ")
        expectError(
            """
            [image]
            disk_size = [\(values)]
            [cache]
            l2_cache_size = [\(values)]
            l2_cache_entry_size = [\(values)]
            """,
            "m.toml: matrix: the axes multiply to 10648 cells; at most 10000 are allowed")
    }

    @Test func errorsAreThrownAsMatrixError() {
        #expect(
            throws: MatrixError(
                source: "x.toml",
                reason: .invalidValue(InvalidValue(field: "workload.repeat", value: "0", rule: "must be from 1 to 100")))
        ) {
            try Matrix.parse(toml: "[workload]\nrepeat = 0", source: "x.toml")
        }
        #expect(throws: MatrixError.self) { try Matrix.parse(toml: "[[", source: "x.toml") }
    }

    @Test func validateChecksMatricesBuiltInCode() {
        let m = Matrix(name: "code", l2CacheSizes: [], source: "<code>")
        #expect(throws: MatrixError(source: "<code>", reason: .invalidValue(InvalidValue(field: "cache.l2_cache_size", value: "[]", rule: "an axis must list at least one value")))) {
            try m.validate()
        }
        #expect(throws: Never.self) { try Matrix(name: "code").validate() }
    }
}

/// The workload keys added for the knobs: phases and offset distribution.
@Suite("Phase and distribution keys")
struct PhaseAndDistributionKeyTests {
    func error(_ toml: String) -> String {
        do {
            _ = try Matrix.parse(toml: toml, source: "m.toml")
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func phasesParseAndChangeTheHashAndID() throws {
        let m = try Matrix.parse(toml: "[workload]\nphases = [\"write 4s\", \"idle 10s\", \"write 4s\"]\n", source: "m.toml")
        #expect(m.workload.phases == [.write(millis: 4000), .idle(millis: 10000), .write(millis: 4000)])
        #expect(m.workload.measuredMillis == 8000)
        #expect(m.cells().allSatisfy { $0.id.hasSuffix("-w4000.i10000.w4000") })
        let plain = try Matrix.parse(toml: "", source: "m.toml")
        #expect(m.hash != plain.hash)
    }

    @Test func phaseRules() {
        let rule = "each phase is \"write DURATION\" or \"idle DURATION\" (e.g. \"idle 30s\"); the first is a write phase; at most 16"
        #expect(error("[workload]\nphases = [\"sleep 4s\"]\n") == "m.toml: workload.phases: invalid value \"sleep 4s\": \(rule)")
        #expect(error("[workload]\nphases = [\"idle 4s\", \"write 4s\"]\n") == "m.toml: workload.phases: invalid value \"idle 4s, write 4s\": \(rule)")
        #expect(error("[workload]\nphases = [\"write 0s\"]\n") == "m.toml: workload.phases: invalid value \"write 0s\": \(rule)")
        #expect(error("[workload]\nphases = \"write 4s\"\n") == "m.toml: workload.phases: invalid value \"write 4s\": must be a list of phases such as [\"write 10s\", \"idle 30s\"], not a string")
        #expect(
            error("[workload]\ndriver = \"fio\"\nphases = [\"write 4s\", \"idle 4s\", \"write 4s\"]\n")
                == "m.toml: workload.phases: invalid value \"write 4s, idle 4s, write 4s\": phases are run by the native driver only; fio runs one write phase (use driver native)")
    }

    @Test func distributions() throws {
        #expect(try Matrix.parse(toml: "[workload]\ndistribution = \"zipf:1.2\"\n", source: "m.toml").workload.distribution == .zipf(thetaMillis: 1200))
        #expect(try Matrix.parse(toml: "[workload]\ndistribution = \"zipf:0.8\"\n", source: "m.toml").cells()[0].id.contains("-zipf:0.8"))
        let rule = "must be \"uniform\" or \"zipf:THETA\" with THETA in (0, 10], not 1, at most three decimals (as fio's random_distribution)"
        #expect(error("[workload]\ndistribution = \"zipf:1\"\n") == "m.toml: workload.distribution: invalid value \"zipf:1\": \(rule)")
        #expect(error("[workload]\ndistribution = \"pareto:0.5\"\n") == "m.toml: workload.distribution: invalid value \"pareto:0.5\": \(rule)")
        #expect(error("[workload]\ndistribution = \"zipf:0.1234\"\n") == "m.toml: workload.distribution: invalid value \"zipf:0.1234\": \(rule)")
    }
}
