import ArgumentParser
import BenchSpec
import GuestWire
import Orchestrator

/// Brings a harness up for a command, the one way every command does it:
/// kernel, initramfs (with the drivers asked for), accelerator probe, work
/// directory. Ctrl-C is honoured from the first moment (exit 130, nothing
/// left); any other failure is bad input or a broken setup (exit 2). Comes
/// before any output is written, so a refused setup writes nothing.
enum HarnessSetup {
    /// One harness per driver in `drivers` (the first is the base); all
    /// share the base's work directory, which `shutdown()` on the base removes.
    static func start(
        guest: GuestOptions, name: String, hash: String, seed: UInt64, drivers: [GuestDriver], builds: [QemuBuild] = []
    ) async throws -> [GuestDriver: Harness] {
        let logger = guest.makeLogger()
        let setup = Task { () async throws -> [GuestDriver: Harness] in
            var base = try await Harness.prepare(
                kernelDirectory: guest.kernel, accel: guest.accel, matrixName: name, matrixHash: hash, seed: seed, logger: logger, builds: builds)
            base.context.extraKernelParameters = guest.kernelArgs
            var out: [GuestDriver: Harness] = [:]
            do {
                for d in drivers { out[d] = try await base.using(driver: d) }
            } catch {
                base.shutdown()
                throw error
            }
            return out
        }
        Interrupts.install { setup.cancel() }
        let harnesses: [GuestDriver: Harness]
        do {
            harnesses = try await setup.value
        } catch {
            if Interrupts.interrupted { throw ExitCode(130) }
            throw fail("\(error)", code: 2)
        }
        if Interrupts.interrupted {
            harnesses.values.first?.shutdown()
            throw ExitCode(130)
        }
        return harnesses
    }
}
