import ArgumentParser
import Foundation

/// `bench`: measures qcow2 metadata cache settings inside real QEMU guests.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure how qcow2 cache settings (l2-cache-size, refcount-cache-size, cache-clean-interval) change random-write IOPS in a real QEMU guest.",
        discussion: """
            Quick start:
              bench --matrix                 run the default matrix
              bench --matrix FILE            run another matrix file
              bench run --l2-cache-size 1M   measure one configuration
              bench doctor                   check QEMU, the guest kernel and KVM

            Exit status: 0 success, 1 failed runs or a regression, 2 bad input, 130 interrupted.
            """,
        subcommands: [MatrixCommand.self, RunCommand.self, ReportCommand.self, DoctorCommand.self, CompareCommand.self, BaselineCommand.self, MergeCommand.self, CalibrateCommand.self, AdviseCommand.self, ReplayCommand.self],
        defaultSubcommand: MatrixCommand.self
    )

    /// Parses and runs like ArgumentParser's own `main`, except that every
    /// input error (unknown option, malformed value, failed `validate()`)
    /// is one line on stderr and exit status 2, the project's contract for
    /// bad input; nothing has been started at that point.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid input"
                let text = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
                FileHandle.standardError.write(Data("error: \(text)\n".utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
