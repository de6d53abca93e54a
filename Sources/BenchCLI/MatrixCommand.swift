import ArgumentParser

struct MatrixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "matrix", abstract: "Run a matrix (coming).")
    func run() async throws {}
}
