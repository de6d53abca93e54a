import Dispatch
import Foundation
import Orchestrator

/// Ctrl-C / SIGTERM: the first cancels the running work (QEMU is torn down,
/// temp files removed, finished records are already on disk); a second one
/// kills any QEMU still running, removes work directories and exits at once.
enum Interrupts {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    nonisolated(unsafe) static var count = 0
    static let queue = DispatchQueue(label: "bench.signals")

    static func install(onFirst: @escaping @Sendable () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            src.setEventHandler {
                count += 1
                if count == 1 {
                    FileHandle.standardError.write(Data("\ninterrupted: stopping the current run (again to force)\n".utf8))
                    onFirst()
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
