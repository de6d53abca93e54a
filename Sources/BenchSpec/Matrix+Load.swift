internal import Foundation

extension Matrix {
    /// Reads and parses the matrix file at `path`; `path` becomes the matrix's
    /// `source`. A missing or unreadable file is a `MatrixError` like any
    /// other bad input, so the CLI reports it the same way.
    public static func load(path: String) throws(MatrixError) -> Matrix {
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        guard files.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MatrixError(source: path, reason: .unreadable("no such file"))
        }
        if isDirectory.boolValue {
            throw MatrixError(source: path, reason: .unreadable("is a directory, not a TOML file"))
        }
        guard let data = files.contents(atPath: path) else {
            throw MatrixError(source: path, reason: .unreadable("permission denied or I/O error"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MatrixError(source: path, reason: .unreadable("not UTF-8 text"))
        }
        return try parse(toml: text, source: path)
    }
}
