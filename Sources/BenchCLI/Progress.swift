import BenchSpec
import Foundation
import Orchestrator

/// Progress on stderr: a live line on a terminal, one line per run otherwise
/// (CI logs stay readable).
struct ProgressReporter: Sendable {
    let isTerminal = isatty(STDERR_FILENO) == 1
    let started = Date()

    func finished(_ record: RunRecord, index: Int, total: Int) {
        let done = index + 1
        let elapsed = Date().timeIntervalSince(started)
        let eta = elapsed / Double(done) * Double(total - done)
        let what: String
        if let r = record.result, record.status == .ok {
            what = String(format: "%.0f IOPS", r.iops)
        } else {
            what = "FAILED: \(record.failure ?? "?")"
        }
        let line = "[\(done)/\(total)] \(record.cellID) #\(record.repetition): \(what)  (ETA \(Self.clock(eta)))"
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line + (done == total ? "\n" : "")).utf8))
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// One finished slot of a paired run: block, guest, the cell's short
    /// label, its IOPS, the widest ratio CI so far and an ETA.
    func slotFinished(_ record: RunRecord, state: PairedProgress, label: String) {
        let what = record.status == .ok ? String(format: "%.0f IOPS", record.result?.iops ?? 0) : "FAILED: \(record.failure ?? "?")"
        let elapsed = state.elapsedSeconds
        let doneSlots = Double((state.block - 1) * state.cellsPerBlock + state.position + 1)
        let total = Double(max(state.block, state.plannedBlocks) * state.cellsPerBlock)
        let eta = doneSlots > 0 ? elapsed / doneSlots * max(0, total - doneSlots) : 0
        let line = "[group \(state.group)/\(state.groups) · block \(state.block)/\(max(state.block, state.plannedBlocks))+ · guest \(state.guest)] \(label): \(what)  (ETA \(Self.clock(eta))+)"
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func note(_ text: String) {
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[2K" : "") + text + "\n").utf8))
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
