import Dispatch
import Foundation
import Orchestrator
import Synchronization

/// Ctrl-C / SIGTERM: the first cancels the running work (QEMU is torn down,
/// temp files removed, finished records are already on disk); a second one
/// kills any QEMU still running, removes work directories and exits at once.
/// Either way the command exits 130.
enum Interrupts {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    nonisolated(unsafe) static var count = 0
    static let queue = DispatchQueue(label: "bench.signals")
    private static let seen = Atomic<Bool>(false)
    private static let handler = Mutex<(@Sendable () -> Void)?>(nil)

    /// Whether a Ctrl-C / SIGTERM arrived: the command then exits 130,
    /// whatever state the interrupted work ended in.
    static var interrupted: Bool { seen.load(ordering: .acquiring) }

    /// Sets what the first interrupt cancels. Commands call it as soon as
    /// they start work and again for each later stage; the signal handlers
    /// are installed once. When an interrupt already arrived, `onFirst`
    /// runs at once.
    static func install(onFirst: @escaping @Sendable () -> Void) {
        handler.withLock { $0 = onFirst }
        queue.sync {
            if sources.isEmpty { installSources() }
        }
        if interrupted { onFirst() }
    }

    private static func installSources() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            src.setEventHandler {
                count += 1
                seen.store(true, ordering: .releasing)
                if count == 1 {
                    FileHandle.standardError.write(Data("\ninterrupted: stopping the current run (again to force)\n".utf8))
                    handler.withLock { $0 }?()
                } else {
                    ActiveProcesses.killAll()
                    ActiveWorkDirectories.removeAll()
                    exit(130)
                }
            }
            src.resume()
            sources.append(src)
        }
    }
}
