import BenchResults
import BenchSpec
import Foundation
import Orchestrator
import Reporting
import Synchronization

/// Progress on stderr: a live line on a terminal, one line per run otherwise
/// (CI logs stay readable).
struct ProgressReporter: Sendable {
    let isTerminal = isatty(STDERR_FILENO) == 1
    let started = Date()

    /// One finished run in a guest of its own; `label` is the cell's short
    /// name (what varies in the matrix), the ID when none is given.
    func finished(_ record: RunRecord, index: Int, total: Int, label: String? = nil) {
        let done = index + 1
        let elapsed = Date().timeIntervalSince(started)
        let eta = elapsed / Double(done) * Double(total - done)
        let what: String
        if let r = record.result, record.status == .ok {
            what = String(format: "%.0f IOPS", r.iops)
        } else {
            what = "FAILED: \(record.failure ?? "?")"
        }
        let line = "[\(done)/\(total)] \(label ?? record.cellID) #\(record.repetition): \(what)  (ETA \(Self.clock(eta)))"
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line + (done == total ? "\n" : "")).utf8))
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// One finished slot of a paired run: block, guest, the cell's short
    /// label, its IOPS, the widest ratio CI so far and an ETA.
    func slotFinished(_ record: RunRecord, state: PairedProgress, label: String, widestCI: Double?) {
        let what = record.status == .ok ? String(format: "%.0f IOPS", record.result?.iops ?? 0) : "FAILED: \(record.failure ?? "?")"
        let elapsed = state.elapsedSeconds
        let doneSlots = Double((state.block - 1) * state.cellsPerBlock + state.position + 1)
        // Until the target is met the run may go on to max_blocks or the budget.
        let expected = Double(max(state.block, state.plannedBlocks) * state.cellsPerBlock)
        var eta = doneSlots > 0 ? elapsed / doneSlots * max(0, expected - doneSlots) : 0
        var etaText = Self.clock(eta)
        if let target = state.targetCI, widestCI.map({ $0 > target }) ?? true {
            let most = doneSlots > 0 ? elapsed / doneSlots * max(0, Double(state.maxBlocks * state.cellsPerBlock) - doneSlots) : 0
            eta = state.budgetSeconds.map { min(most, max(0, $0 - elapsed)) } ?? most
            etaText = "≤ " + Self.clock(eta)
        }
        let blocks = state.targetCI == nil ? "\(state.block)/\(state.plannedBlocks)" : "\(state.block) (\(state.plannedBlocks)–\(state.maxBlocks))"
        var ci = ""
        if let w = widestCI {
            ci = String(format: " · widest CI ±%.1f%%", w * 100) + (state.targetCI.map { " → ±" + Pairing.percentText($0) } ?? "")
        }
        let line = "[block \(blocks) · guest \(state.guest)\(state.groups > 1 ? " · group \(state.group)/\(state.groups)" : "")\(ci)] \(label): \(what)  (ETA \(etaText))"
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

/// The slot records of a running matrix, for the widest-CI figure on the
/// progress line (recomputed once per finished block).
final class SlotTally: Sendable {
    private let state = Mutex<(records: [RunRecord], widest: Double?)>(([], nil))

    /// Adds `record`; at the end of a block, recomputes the widest ratio CI.
    func add(_ record: RunRecord, endsBlock: Bool) -> Double? {
        state.withLock { s in
            s.records.append(record)
            if endsBlock { s.widest = PairedAnalysis(records: s.records).widestHalfWidth }
            return s.widest
        }
    }
}
