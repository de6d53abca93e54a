import BenchSpec
import Foundation

/// `results.jsonl`: one record per line, appended and flushed to disk
/// (fsync) as each run ends, so a crash or Ctrl-C loses nothing finished.
/// Sendable so the actor driving a paired run can own it; appends are
/// serialized by that single owner.
public final class ResultsLog: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let encoder: JSONEncoder

    public init(path: String) throws(RecordsError) {
        self.path = path
        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(what: "cannot open results log", path: path, errno: errno) }
        // A torn last line (power loss mid-append) would glue itself to the
        // next record: cut the file back to its last complete line.
        let size = lseek(fd, 0, SEEK_END)
        if size > 0 {
            var last: UInt8 = 0
            if pread(fd, &last, 1, size - 1) == 1, last != 0x0A {
                let keep = Self.lastNewlineOffset(fd: fd, size: size)
                guard ftruncate(fd, keep) == 0 else {
                    close(fd)
                    throw .io(what: "cannot truncate torn record in", path: path, errno: errno)
                }
            }
        }
        encoder = Self.makeEncoder()
    }

    deinit { close(fd) }

    /// Offset just past the last newline before `size` (0 if none).
    static func lastNewlineOffset(fd: Int32, size: off_t) -> off_t {
        var end = size
        var buf = [UInt8](repeating: 0, count: 4096)
        while end > 0 {
            let start = max(0, end - off_t(buf.count))
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(end - start), start) }
            guard n > 0 else { return 0 }
            if let i = buf[0..<n].lastIndex(of: 0x0A) { return start + off_t(i) + 1 }
            end = start
        }
        return 0
    }

    /// The encoder every records file uses: sorted keys, one line per record.
    public static func makeEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// Records as a records file holds them: one JSON line each.
    public static func lines(_ records: [RunRecord]) throws -> Data {
        let encoder = makeEncoder()
        var data = Data()
        for r in records {
            data.append(try encoder.encode(r))
            data.append(0x0A)
        }
        return data
    }

    public func append(_ record: RunRecord) throws(RecordsError) {
        var data: Data
        do { data = try encoder.encode(record) } catch { throw .io(what: "cannot encode record for", path: path, errno: EINVAL) }
        data.append(0x0A)
        let before = lseek(fd, 0, SEEK_END)
        let ok = data.withUnsafeBytes { buf -> Bool in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                off += n
            }
            return true
        }
        guard ok, fsync(fd) == 0 else {
            let err = errno
            // Disk full mid-record: take the partial line back so the file
            // holds only whole records.
            if before >= 0 { _ = ftruncate(fd, before) }
            throw .io(what: "cannot write results log", path: path, errno: err)
        }
    }

    /// Reads every complete record; a torn last line (power loss mid-write)
    /// is skipped, any other bad line is an error naming its number.
    public static func read(path: String) throws(RecordsError) -> [RunRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        let decoder = JSONDecoder()
        var out: [RunRecord] = []
        for (i, line) in lines.enumerated() where !line.isEmpty {
            do {
                out.append(try decoder.decode(RunRecord.self, from: Data(line)))
            } catch {
                let isLast = i == lines.count - 1
                if isLast { continue }  // torn tail: the run it belonged to did not finish
                throw .badLine(path, i + 1, "\(error)")
            }
        }
        return out
    }
}

public enum RecordsError: Error, CustomStringConvertible {
    case unreadable(String)
    case badLine(String, Int, String)
    /// A system call on the results log failed.
    case io(what: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .unreadable(let p): "cannot read records: \(p) (expected a results directory or its results.jsonl)"
        case .badLine(let p, let n, let why): "\(p):\(n): not a run record: \(why)"
        case .io(let what, let path, let err): "\(what) \(path): \(String(cString: strerror(err)))"
        }
    }
}
