import Foundation

func writeFile(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

func removeFile(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

func readFile(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}
