import Testing

@testable import BenchSpec

@Suite("Matrix hash")
struct MatrixHashTests {
    private let base = """
        name = "h"
        [workload]
        runtime = "4s"
        [image]
        disk_size = ["16G"]
        [cache]
        l2_cache_size = ["128K", "1M", "default"]
        [[exclude]]
        l2_cache_size = "1M"
        state = "fresh"
        """

    @Test func isSixteenHexDigits() throws {
        let h = try Fixtures.parse(base).hash
        #expect(h.count == 16)
        #expect(h.allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }

    @Test func isAFixedFunctionOfTheContent() throws {
        // FNV-1a 64 of the canonical text; a change here changes every
        // recorded matrix hash, so it must be deliberate.
        let m = try Fixtures.parse(base)
        #expect(
            m.canonicalDescription == """
                qcb-matrix/1
                name=h
                workload.block_size=4K
                workload.iodepth=32
                workload.ramp=2s
                workload.runtime=4s
                workload.span=100%
                workload.repeat=3
                workload.seed=1
                image.disk_size=16G
                image.cluster_size=64K
                image.state=preallocated
                image.refcount_bits=16
                cache.l2_cache_size=128K,1M,default
                cache.l2_cache_entry_size=default
                cache.refcount_cache_size=default
                cache.cache_clean_interval=default
                host.cache=none
                host.aio=native
                reference.null=false
                reference.raw=false
                exclude=state=fresh;l2_cache_size=1M

                """)
        #expect(m.hash == fnv1a64Reference(m.canonicalDescription))
    }

    @Test func stableAcrossKeyOrderWhitespaceCommentsAndSpelling() throws {
        let rewritten = """
            # same matrix, written differently
            description = "prose is not hashed"
            name = "h"
            [[exclude]]
            state="fresh"
            l2_cache_size=1048576

            [cache]
              l2_cache_size = [ "128k", "1MiB",
                                "default" ]   # trailing comment
            [image]
            disk_size = "16384M"
            [workload]
            ramp = "2000ms"
            runtime = 4
            """
        #expect(try Fixtures.parse(rewritten, source: "elsewhere.toml").hash == (try Fixtures.parse(base).hash))
    }

    @Test func stableAcrossExcludeOrder() throws {
        let a = base + "\n[[exclude]]\nl2_cache_size = \"128K\"\n"
        let b = base.replacingOccurrences("[[exclude]]", with: "[[exclude]]\nl2_cache_size = \"128K\"\n[[exclude]]")
        #expect(try Fixtures.parse(a).hash == (try Fixtures.parse(b).hash))
    }

    @Test func changesWithContent() throws {
        let h = try Fixtures.parse(base).hash
        let variants = [
            base.replacingOccurrences("\"128K\"", with: "\"256K\""),
            base.replacingOccurrences("runtime = \"4s\"", with: "runtime = \"5s\""),
            base.replacingOccurrences("name = \"h\"", with: "name = \"g\""),
            base.replacingOccurrences("\"16G\"", with: "\"16G\", \"4G\""),
            base.replacingOccurrences("state = \"fresh\"", with: "state = \"preallocated\""),
            base + "\n[reference]\nnull = true\n",
            base.replacingOccurrences("[workload]", with: "[workload]\nseed = 2"),
            // Axis order decides cell order and so the seeded run order.
            base.replacingOccurrences("[\"128K\", \"1M\", \"default\"]", with: "[\"1M\", \"128K\", \"default\"]"),
            // cache_size joins the canonical text only when it is used.
            base.replacingOccurrences("[cache]", with: "[cache]\ncache_size = [\"default\", \"4M\"]"),
        ]
        var seen: Set<String> = [h]
        for text in variants {
            #expect(seen.insert(try Fixtures.parse(text).hash).inserted, "\(text)")
        }
    }

    private func fnv1a64Reference(_ text: String) -> String {
        var h: UInt64 = 14_695_981_039_346_656_037
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
