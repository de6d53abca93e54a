import ArgumentParser

/// `bench`: measures qcow2 metadata cache settings inside real QEMU guests.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure how qcow2 cache settings (l2-cache-size, refcount-cache-size, cache-clean-interval) change random-write IOPS in a real QEMU guest.",
        discussion: """
            Quick start:
              bench --matrix                 run the default matrix (Benchmarks/default.toml)
              bench --matrix FILE            run another matrix file
              bench run --l2-cache-size 1M   measure one configuration
              bench doctor                   check QEMU, the guest kernel and KVM

            Exit status: 0 success, 1 failed runs or a regression, 2 bad input.
            """,
        subcommands: [MatrixCommand.self, RunCommand.self, ReportCommand.self, DoctorCommand.self],
        defaultSubcommand: MatrixCommand.self
    )
}
