/// Whether a QEMU binary can log the cache events `CacheTrace` counts: a
/// build with tracing disabled (or the `nop` backend) lists none of them.
public enum CacheTraceSupport {
    /// Events of `CacheTraceOptions.allEvents` absent from `qemu -trace help` output.
    public static func missingEvents(inTraceHelp output: String) -> [CacheTraceEvent] {
        let listed = Set(output.split(whereSeparator: \.isNewline).map { String($0).trimmingWhitespaceAndNewlines() })
        return CacheTraceOptions.allEvents.filter { !listed.contains($0.rawValue) }
    }

    /// Runs `qemu -trace help`; nil when all events are there, otherwise
    /// why not, one line.
    public static func problem(qemu: String = "qemu-system-x86_64") async -> String? {
        let out: ToolOutput
        do { out = try await ToolRunner.run([qemu, "-trace", "help"]) } catch { return "\(error)" }
        guard out.succeeded else {
            return "\(qemu) -trace help failed: \(out.stderr.split(separator: "\n").first.map(String.init) ?? "no error output")"
        }
        let missing = missingEvents(inTraceHelp: out.stdout + "\n" + out.stderr)
        return missing.isEmpty
            ? nil : "\(qemu) does not list trace events \(missing.map(\.rawValue).joined(separator: ", ")) (built without tracing?)"
    }
}

extension String {
    fileprivate func trimmingWhitespaceAndNewlines() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
