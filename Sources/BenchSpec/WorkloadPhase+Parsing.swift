import GuestWire
import Qcow2Geometry

extension WorkloadPhase {
    static let listRule =
        "each phase is \"write DURATION\" or \"idle DURATION\" (e.g. \"idle 30s\"); the first is a write phase; at most 16"

    /// Parses `["write 10s", "idle 30s", "write 10s"]` (matrix files) or the
    /// comma-separated `write 10s,idle 30s,write 10s` (`--phases`).
    public static func parseList(_ items: [String], field: String) throws(InvalidValue) -> [WorkloadPhase] {
        var out: [WorkloadPhase] = []
        for text in items {
            let words = text.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count == 2, let t = try? TimeSpan(parsing: String(words[1]), field: field) else {
                throw InvalidValue(field: field, value: text, rule: listRule)
            }
            switch words[0] {
            case "write": out.append(.write(millis: t.milliseconds))
            case "idle": out.append(.idle(millis: t.milliseconds))
            default: throw InvalidValue(field: field, value: text, rule: listRule)
            }
        }
        guard let first = out.first, first.isWrite, out.count <= 16 else {
            throw InvalidValue(field: field, value: items.joined(separator: ", "), rule: listRule)
        }
        return out
    }
}

extension OffsetDistribution {
    /// Parses `uniform` or `zipf:THETA`, attributing errors to `field`.
    public init(parsing text: String, field: String) throws(InvalidValue) {
        guard let d = OffsetDistribution(parsing: text), d != .zipf(thetaMillis: 1000) else {
            throw InvalidValue(
                field: field, value: text,
                rule: "must be \"uniform\" or \"zipf:THETA\" with THETA in (0, 10], not 1, at most three decimals (as fio's random_distribution)")
        }
        self = d
    }
}
