import GuestWire
import Qcow2Geometry
internal import TOMLKit

extension Matrix {
    /// Reads a matrix file's text. Everything is checked here (syntax, keys,
    /// types, values and the rules in `validate()`), so a run never starts on
    /// bad input. `source` names the file in error messages.
    ///
    /// Every section and key may be omitted and takes the default of
    /// `Matrix.init`; `name` defaults to the file's base name. An axis may be
    /// given as a single value instead of a list. Sizes are strings (`"64K"`)
    /// or integers (bytes); durations are strings (`"500ms"`, `"8s"`) or
    /// integers (seconds); counts must be integers.
    public static func parse(toml: String, source: String) throws(MatrixError) -> Matrix {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: toml)
        } catch let error as TOMLParseError {
            throw MatrixError(source: source, reason: .syntax(line: error.source.begin.line, message: error.description))
        } catch {
            throw MatrixError(source: source, reason: .syntax(line: 0, message: "\(error)"))
        }
        let matrix: Matrix
        do throws(TOMLReadError) {
            matrix = try TOMLMatrixReader(source: source).read(root)
        } catch {
            switch error {
            case .unknownKey(let key, let allowed):
                throw MatrixError(source: source, reason: .unknownKey(key, allowed: allowed))
            case .invalid(let invalid):
                throw MatrixError(source: source, invalid)
            }
        }
        try matrix.validate()
        return matrix
    }

    /// The name a matrix gets when its file has no `name` key: the file's
    /// base name without `.toml`, if that is a valid name.
    static func defaultName(source: String) -> String {
        var base = Substring(source.split(separator: "/").last ?? "")
        if base.hasSuffix(".toml") { base = base.dropLast(5) }
        let name = String(base)
        return isValidName(name) ? name : "matrix"
    }
}

/// A decoding failure, before the source is attached.
enum TOMLReadError: Error {
    case unknownKey(String, allowed: [String])
    case invalid(InvalidValue)
}

/// Turns a parsed TOML document into a `Matrix`, checking keys and types.
/// Value rules that need the whole matrix are left to `Matrix.validate()`.
struct TOMLMatrixReader {
    var source: String

    static let topKeys = ["name", "description", "workload", "image", "cache", "host", "reference", "exclude"]
    static let workloadKeys = ["block_size", "iodepth", "ramp", "runtime", "repeat", "span", "seed", "driver", "distribution", "phases", "isolation", "target_ci", "min_blocks", "max_blocks", "budget", "trace"]
    static let referenceKeys = ["null", "raw"]

    func read(_ root: TOMLTable) throws(TOMLReadError) -> Matrix {
        try checkKeys(root, path: "", allowed: Self.topKeys)
        var m = Matrix(name: Matrix.defaultName(source: source), source: source)
        if let v = root["name"] { m.name = try string(v, "name") }
        if let v = root["description"] { m.description = try string(v, "description") }

        if let w = try table(root, "workload") {
            try checkKeys(w, path: "workload", allowed: Self.workloadKeys)
            if let v = w["block_size"] { m.workload.blockSize = try size(v, "workload.block_size") }
            if let v = w["iodepth"] { m.workload.iodepth = try int(v, "workload.iodepth") }
            if let v = w["ramp"] { m.workload.ramp = try duration(v, "workload.ramp", allowZero: true) }
            if let v = w["runtime"] { m.workload.runtime = try duration(v, "workload.runtime", allowZero: false) }
            if let v = w["repeat"] { m.repetitions = try int(v, "workload.repeat") }
            if let v = w["span"] { m.workload.span = try span(v, "workload.span") }
            if let v = w["driver"] { m.workload.driver = try driver(v, "workload.driver") }
            if let v = w["distribution"] { m.workload.distribution = try distribution(v, "workload.distribution") }
            if let v = w["phases"] { m.workload.phases = try phases(v, "workload.phases") }
            if let v = w["isolation"] {
                let text = try string(v, "workload.isolation")
                guard let i = Isolation(rawValue: text) else {
                    throw .invalid(InvalidValue(field: "workload.isolation", value: text, rule: "must be one of: shared, guest-per-run"))
                }
                m.pairing.isolation = i
            }
            if let v = w["target_ci"] {
                let text = try string(v, "workload.target_ci")
                do { m.pairing.targetCI = try Pairing.parseTarget(text, field: "workload.target_ci") } catch { throw .invalid(error) }
            }
            for (key, path) in [("min_blocks", \Pairing.minBlocks), ("max_blocks", \Pairing.maxBlocks)] {
                guard let v = w[key] else { continue }
                let n = try int(v, "workload.\(key)")
                guard Pairing.blockRange.contains(n) else {
                    throw .invalid(InvalidValue(field: "workload.\(key)", value: "\(n)", rule: "must be from \(Pairing.blockRange.lowerBound) to \(Pairing.blockRange.upperBound)"))
                }
                m.pairing[keyPath: path] = n
            }
            if let v = w["trace"] {
                let text = try string(v, "workload.trace")
                guard let t = TraceMode(rawValue: text) else {
                    throw .invalid(InvalidValue(field: "workload.trace", value: text, rule: "must be one of: \(TraceMode.allCases.map(\.rawValue).joined(separator: ", "))"))
                }
                m.pairing.trace = t
            }
            if let v = w["budget"] { m.pairing.budget = try duration(v, "workload.budget", allowZero: false) }
            if let v = w["seed"] {
                let seed = try int(v, "workload.seed")
                guard seed >= 0 else {
                    throw .invalid(InvalidValue(field: "workload.seed", value: "\(seed)", rule: "must be a whole number from 0 to \(Int64.max)"))
                }
                m.seed = UInt64(seed)
            }
        }

        if let t = try table(root, "image") {
            try checkKeys(t, path: "image", allowed: axisKeys(in: "image"))
            if let v = try axis(t, .diskSize) { m.diskSizes = try v.map { (v) throws(TOMLReadError) in try size(v, "image.disk_size") } }
            if let v = try axis(t, .clusterSize) { m.clusterSizes = try v.map { (v) throws(TOMLReadError) in try size(v, "image.cluster_size") } }
            if let v = try axis(t, .state) { m.states = try v.map { (v) throws(TOMLReadError) in try state(v, "image.state") } }
            if let v = try axis(t, .refcountBits) { m.refcountBits = try v.map { (v) throws(TOMLReadError) in try int(v, "image.refcount_bits") } }
        }

        if let t = try table(root, "cache") {
            try checkKeys(t, path: "cache", allowed: axisKeys(in: "cache"))
            if let v = try axis(t, .l2CacheSize) {
                m.l2CacheSizes = try v.map { (v) throws(TOMLReadError) in try sizeSetting(v, "cache.l2_cache_size") }
            }
            if let v = try axis(t, .l2CacheEntrySize) {
                m.l2CacheEntrySizes = try v.map { (v) throws(TOMLReadError) in try sizeSetting(v, "cache.l2_cache_entry_size") }
            }
            if let v = try axis(t, .refcountCacheSize) {
                m.refcountCacheSizes = try v.map { (v) throws(TOMLReadError) in try sizeSetting(v, "cache.refcount_cache_size") }
            }
            if let v = try axis(t, .cacheCleanInterval) {
                m.cacheCleanIntervals = try v.map { (v) throws(TOMLReadError) in try seconds(v, "cache.cache_clean_interval") }
            }
            if let v = try axis(t, .cacheSize) {
                m.cacheSizes = try v.map { (v) throws(TOMLReadError) in try sizeSetting(v, "cache.cache_size") }
            }
        }

        if let t = try table(root, "host") {
            try checkKeys(t, path: "host", allowed: axisKeys(in: "host"))
            if let v = try axis(t, .hostCache) { m.hostCaches = try v.map { (v) throws(TOMLReadError) in try string(v, "host.cache") } }
            if let v = try axis(t, .hostAio) { m.hostAios = try v.map { (v) throws(TOMLReadError) in try string(v, "host.aio") } }
            if let v = try axis(t, .qemuBuild) {
                m.qemuBuilds = try v.map { (v) throws(TOMLReadError) in try string(v, "host.qemu_build") }
            }
        }

        if let t = try table(root, "reference") {
            try checkKeys(t, path: "reference", allowed: Self.referenceKeys)
            if let v = t["null"] { m.includeNull = try bool(v, "reference.null") }
            if let v = t["raw"] { m.includeRaw = try bool(v, "reference.raw") }
        }

        if let v = root["exclude"] { m.excludes = try exclusions(v) }
        return m
    }

    // MARK: Structure

    private func axisKeys(in section: String) -> [String] {
        Matrix.Axis.allCases.filter { $0.section == section }.map(\.rawValue)
    }

    private func checkKeys(_ table: TOMLTable, path: String, allowed: [String]) throws(TOMLReadError) {
        for key in table.keys where !allowed.contains(key) {
            throw .unknownKey(path.isEmpty ? key : "\(path).\(key)", allowed: allowed)
        }
    }

    private func table(_ parent: TOMLTable, _ key: String) throws(TOMLReadError) -> TOMLTable? {
        guard let value = parent[key] else { return nil }
        guard let table = value.table else { throw wrongType(value, key, expected: "a table ([\(key)])") }
        return table
    }

    /// An axis's values; a single value counts as a one-element list.
    private func axis(_ table: TOMLTable, _ axis: Matrix.Axis) throws(TOMLReadError) -> [TOMLValueConvertible]? {
        guard let value = table[axis.rawValue] else { return nil }
        if let array = value.array { return Array(array) }
        return [value]
    }

    private func exclusions(_ value: TOMLValueConvertible) throws(TOMLReadError) -> [Matrix.Exclusion] {
        let tables: [TOMLValueConvertible]
        if let array = value.array {
            tables = Array(array)
        } else if value.type == .table {
            tables = [value]
        } else {
            throw wrongType(value, "exclude", expected: "an array of tables ([[exclude]])")
        }
        var out: [Matrix.Exclusion] = []
        // A block runs every build on every cell, so that each cell pairs
        // across builds: an exclusion cannot name a build.
        let allowed = Matrix.Axis.allCases.filter { $0 != .qemuBuild }.map(\.rawValue)
        for (index, element) in tables.enumerated() {
            let path = "exclude[\(index + 1)]"
            guard let table = element.table else { throw wrongType(element, path, expected: "a table ([[exclude]])") }
            if let v = table[Matrix.Axis.qemuBuild.rawValue] {
                throw .invalid(
                    InvalidValue(
                        field: "\(path).\(Matrix.Axis.qemuBuild.rawValue)", value: v.string ?? "\(v)",
                        rule: "an exclusion cannot name a build: every build runs every cell, so that each cell pairs across builds (allowed: \(allowed.joined(separator: ", ")))"))
            }
            try checkKeys(table, path: path, allowed: allowed)
            var conditions: [Matrix.Axis: String] = [:]
            for axis in Matrix.Axis.allCases {
                guard let v = table[axis.rawValue] else { continue }
                conditions[axis] = try canonicalValue(v, axis: axis, field: "\(path).\(axis.rawValue)")
            }
            out.append(Matrix.Exclusion(conditions))
        }
        return out
    }

    /// Parses one `[[exclude]]` value with its axis's rules, in canonical spelling.
    private func canonicalValue(_ v: TOMLValueConvertible, axis: Matrix.Axis, field: String) throws(TOMLReadError) -> String {
        if v.type == .array {
            throw wrongType(v, field, expected: "a single value (use one [[exclude]] table per combination)")
        }
        switch axis {
        case .diskSize, .clusterSize: return try size(v, field).description
        case .state: return try state(v, field).rawValue
        case .refcountBits: return "\(try int(v, field))"
        case .l2CacheSize, .l2CacheEntrySize, .refcountCacheSize, .cacheSize: return try sizeSetting(v, field).description
        case .cacheCleanInterval: return try seconds(v, field).description
        case .hostCache, .hostAio, .qemuBuild: return try string(v, field)
        }
    }

    // MARK: Scalars

    private func string(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> String {
        guard let s = v.string else { throw wrongType(v, field, expected: "a string") }
        return s
    }

    private func int(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> Int {
        guard let n = v.int else { throw wrongType(v, field, expected: "an integer") }
        return n
    }

    private func bool(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> Bool {
        guard let b = v.bool else { throw wrongType(v, field, expected: "true or false") }
        return b
    }

    /// Size text, or an integer number of bytes.
    private func sizeText(_ v: TOMLValueConvertible, _ field: String, expected: String) throws(TOMLReadError) -> String {
        if let s = v.string { return s }
        if let n = v.int { return "\(n)" }
        throw wrongType(v, field, expected: expected)
    }

    private func size(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> ByteSize {
        let text = try sizeText(v, field, expected: "a size such as \"64K\" or a number of bytes")
        do throws(InvalidValue) { return try ByteSize(parsing: text, field: field) } catch { throw .invalid(error) }
    }

    private func sizeSetting(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> Setting<ByteSize> {
        let text = try sizeText(v, field, expected: "a size such as \"64K\", a number of bytes, or \"default\"")
        do throws(InvalidValue) { return try Setting(parsing: text, field: field) } catch { throw .invalid(error) }
    }

    private func seconds(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> Setting<Int> {
        let text = try sizeText(v, field, expected: "a number of seconds or \"default\"")
        do throws(InvalidValue) { return try Setting(parsingSeconds: text, field: field) } catch { throw .invalid(error) }
    }

    private func duration(_ v: TOMLValueConvertible, _ field: String, allowZero: Bool) throws(TOMLReadError) -> TimeSpan {
        let text = try sizeText(v, field, expected: "a duration such as \"8s\" or a number of seconds")
        do throws(InvalidValue) {
            return try TimeSpan(parsing: text, field: field, allowZero: allowZero)
        } catch {
            throw .invalid(error)
        }
    }

    private func span(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> Span {
        let text = try sizeText(v, field, expected: "a percentage such as \"100%\" or a size such as \"4G\"")
        do throws(InvalidValue) { return try Span(parsing: text, field: field) } catch { throw .invalid(error) }
    }

    private func driver(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> GuestDriver {
        let text = try string(v, field)
        guard let driver = GuestDriver(rawValue: text) else {
            let allowed = GuestDriver.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalid(InvalidValue(field: field, value: text, rule: "must be one of \(allowed)"))
        }
        return driver
    }

    private func distribution(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> OffsetDistribution {
        let text = try string(v, field)
        do throws(InvalidValue) { return try OffsetDistribution(parsing: text, field: field) } catch { throw .invalid(error) }
    }

    private func phases(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> [WorkloadPhase] {
        guard let array = v.array else { throw wrongType(v, field, expected: "a list of phases such as [\"write 10s\", \"idle 30s\"]") }
        var items: [String] = []
        for item in array { items.append(try string(item, field)) }
        do throws(InvalidValue) { return try WorkloadPhase.parseList(items, field: field) } catch { throw .invalid(error) }
    }

    private func state(_ v: TOMLValueConvertible, _ field: String) throws(TOMLReadError) -> ImageState {
        let text = try string(v, field)
        guard let state = ImageState(rawValue: text) else {
            let allowed = ImageState.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalid(InvalidValue(field: field, value: text, rule: "must be one of \(allowed)"))
        }
        return state
    }

    // MARK: Messages

    private func wrongType(_ v: TOMLValueConvertible, _ field: String, expected: String) -> TOMLReadError {
        .invalid(InvalidValue(field: field, value: Self.render(v), rule: "must be \(expected), not \(Self.typeName(v.type))"))
    }

    static func typeName(_ type: TOMLType) -> String {
        switch type {
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .array: "an array"
        case .table: "a table"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }

    /// A short spelling of a value for messages: strings bare, arrays and
    /// tables in TOML-like form.
    static func render(_ v: TOMLValueConvertible) -> String {
        if let s = v.string { return s }
        if let n = v.int { return "\(n)" }
        if let d = v.double { return "\(d)" }
        if let b = v.bool { return "\(b)" }
        if let array = v.array { return "[" + array.map { render($0) }.joined(separator: ", ") + "]" }
        if let table = v.table {
            return "{" + table.keys.compactMap { k in table[k].map { "\(k) = \(render($0))" } }.joined(separator: ", ") + "}"
        }
        return v.debugDescription
    }
}
