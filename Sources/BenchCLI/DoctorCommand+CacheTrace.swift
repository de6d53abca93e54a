import Orchestrator

extension DoctorCommand {
    /// Optional: without the events runs still work, but misses cannot be counted.
    static func cacheTraceCheck() async -> Check {
        let events = CacheTraceOptions.allEvents.map(\.rawValue).joined(separator: ", ")
        if let problem = await CacheTraceSupport.problem() {
            return Check(ok: false, name: "cache trace events", detail: "\(problem); cache misses will not be counted", optional: true)
        }
        return Check(ok: true, name: "cache trace events", detail: events)
    }
}
