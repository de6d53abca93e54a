import Testing

@testable import Reporting

@Suite("CSV")
struct CSVTests {
    @Test("cells.csv header: the contract columns, exactly, first")
    func cellsHeader() throws {
        let header = try #require(cellsCSV(Fixture.set).split(separator: "\n").first)
        let contract =
            "cell,state,disk_size,cluster_size,l2_cache_size,l2_cache_entry_size,refcount_cache_size,"
            + "cache_clean_interval,l2_coverage_pct,refcount_coverage_pct,runs,iops_mean,iops_stdev,iops_ci95,"
            + "iops_min,iops_max,lat_p50_us,lat_p99_us,vs_ceiling_pct,"
            + "eff_l2_cache_bytes,eff_l2_entry_size,eff_refcount_cache_bytes,eff_cache_clean_interval,failed_runs"
        #expect(header.hasPrefix(contract + ","))
        #expect(header == contract + ",vs_best_pct,vs_raw_pct,cache_size"
                + ",isolation,blocks,ratio_ref_cell,ratio_vs_ref,ratio_vs_ref_ci95_low,ratio_vs_ref_ci95_high"
                + ",ratio_vs_null,ratio_vs_null_ci95_low,ratio_vs_null_ci95_high,cpu_ratio_vs_ref,cpu_ratio_vs_ref_ci95_low"
                + ",cpu_ratio_vs_ref_ci95_high"
                + ",l2_misses_per_write,l2_misses_per_write_model,refcount_misses_per_write,miss_read_us,model_iops,traced_iops")
    }

    @Test("runs.csv header")
    func runsHeader() {
        #expect(
            runsCSV(Fixture.set).hasPrefix(
                "cell,repetition,sequence,status,iops,mib_s,lat_p50_us,lat_p99_us,lat_p999_us,lat_max_us,"
                    + "io_errors,boot_ms,wall_s,accel,qemu_version,failure\n"))
    }

    @Test("every row has as many fields as the header (quoted commas stay inside a field)")
    func shape() {
        for (csv, columns) in [(cellsCSV(Fixture.set), cellsCSVColumns.count), (runsCSV(Fixture.set), runsCSVColumns.count)] {
            #expect(csv.hasSuffix("\n"))
            for row in parseCSV(csv) { #expect(row.count == columns, "\(row)") }
        }
    }

    @Test("failure reasons with commas and quotes are quoted per RFC 4180")
    func quoting() throws {
        let csv = runsCSV(Fixture.set)
        #expect(csv.contains(",\"guest gave no result within 60s, last console line: \"\"Kernel panic - not syncing\"\"\"\n"))
        let rows = parseCSV(csv)
        let failed = try #require(rows.first { $0[3] == "failed" && !$0[15].isEmpty })
        #expect(failed[15] == "guest gave no result within 60s, last console line: \"Kernel panic - not syncing\"")
        #expect(failed[4] == "" && failed[12] == "60.000")
    }

    @Test("reference cells: null/raw state, empty cache columns; qcow2: bytes or default")
    func cellRows() throws {
        let rows = parseCSV(cellsCSV(Fixture.set)).dropFirst()
        let null = try #require(rows.first)
        #expect(null[1] == "null" && null[2] == "17179869184")
        #expect(null[3...9].allSatisfy(\.isEmpty) && null[19...22].allSatisfy(\.isEmpty))
        #expect(null[18] == "")  // the ceiling is not compared with itself
        let raw = try #require(rows.dropFirst().first)
        #expect(raw[1] == "raw" && raw[18] == "97.05")
        let def = try #require(rows.first { $0[0] == Fixture.qcow2(l2: .default).id })
        #expect(Array(def[1...10]) == [
            "preallocated", "17179869184", "65536", "default", "default", "default", "default", "100.00", "50.00", "3",
        ])
        #expect(Array(def[19...23]) == ["2097152", "65536", "262144", "600", "0"])
        let small = try #require(rows.first { $0[0] == Fixture.qcow2(l2: .value(.kib(128))).id })
        #expect(small[4] == "131072" && small[8] == "6.25" && small[20] == "4096")
        #expect(small[11] == "9618.3" && small[13] != "")
        let once = try #require(rows.first { $0[0] == Fixture.qcow2(.fresh, l2: .value(.kib(256))).id })
        #expect(once[12] == "0.0" && once[13] == "")  // n = 1: stdev 0, no interval
    }

    /// Minimal RFC 4180 reader for the tests.
    func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text)[...]
        while let ch = chars.popFirst() {
            if quoted {
                if ch == "\"" {
                    if chars.first == "\"" {
                        field.append("\"")
                        chars = chars.dropFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(ch)
                }
            } else if ch == "\"" {
                quoted = true
            } else if ch == "," {
                row.append(field)
                field = ""
            } else if ch == "\n" {
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            } else {
                field.append(ch)
            }
        }
        return rows
    }
}
