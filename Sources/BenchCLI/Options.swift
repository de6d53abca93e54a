import ArgumentParser
import BenchSpec
import Logging
import Orchestrator
import Qcow2Geometry

/// `--accel`: how the guest is executed.
extension AccelChoice: ExpressibleByArgument {}

/// Options every command that boots guests shares.
struct GuestOptions: ParsableArguments {
    @Option(help: "Accelerator: auto probes KVM by booting and falls back to TCG.")
    var accel: AccelChoice = .auto

    @Option(help: ArgumentHelp("Guest kernel directory (vmlinuz + modules/).", valueName: "dir"))
    var kernel: String?

    @Flag(name: .shortAndLong, help: "Log each step to stderr.")
    var verbose = false

    @Option(
        name: .customLong("kernel-arg"),
        help: ArgumentHelp("Extra guest kernel parameter, after the workload spec (debugging, fault tests); repeatable.", visibility: .hidden))
    var kernelArgs: [String] = []

    func makeLogger() -> Logger {
        var logger = Logger(label: "bench")
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }
}

/// Rethrows `InvalidValue` as a validation error, so ArgumentParser prints
/// it as one line and exits 2.
func parsed<T>(_ body: () throws(InvalidValue) -> T) throws -> T {
    do { return try body() } catch { throw ValidationError(error.description) }
}
