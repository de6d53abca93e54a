import Foundation
import GuestWire

/// What the guest said on its serial console, reduced to the protocol lines.
public enum ConsoleOutcome: Sendable, Equatable {
    /// The driver printed a decodable result.
    case result(GuestResult)
    /// The driver (or PID 1) reported why it gave up.
    case guestError(String)
    /// A result line that does not decode (garbage, truncated).
    case malformed(String)
    /// No protocol line at all: the guest did not get that far.
    case silent
}

public enum ConsoleTranscript {
    /// Parses a console transcript. The result line wins over error lines,
    /// the first error line over later ones.
    public static func parse(_ text: String) -> ConsoleOutcome {
        var firstError: String?
        var sawReady = false
        for raw in text.split(whereSeparator: { $0.isNewline }) {
            let line = String(raw)
            if let r = line.range(of: ConsoleProtocol.resultMarker) {
                let json = line[r.upperBound...].trimmingCharacters(in: .whitespaces)
                do {
                    return .result(try JSONDecoder().decode(GuestResult.self, from: Data(json.utf8)))
                } catch {
                    return .malformed("result line does not decode (\(json.prefix(80))…): \(error)")
                }
            }
            if let r = line.range(of: ConsoleProtocol.errorMarker), firstError == nil {
                firstError = line[r.upperBound...].trimmingCharacters(in: .whitespaces)
            }
            if line.contains(ConsoleProtocol.readyMarker) { sawReady = true }
        }
        if let firstError { return .guestError(firstError) }
        return sawReady ? .malformed("driver started but printed no result line") : .silent
    }

    /// Labels of the phase marker lines, in order.
    public static func phaseLabels(_ text: String) -> [String] {
        text.split(whereSeparator: { $0.isNewline }).compactMap { line in
            guard let r = line.range(of: ConsoleProtocol.phaseMarker) else { return nil }
            return line[r.upperBound...].trimmingCharacters(in: .whitespaces)
        }
    }

    /// True once the guest printed the ready marker (used by the accel probe).
    public static func sawReady(_ text: String) -> Bool { text.contains(ConsoleProtocol.readyMarker) }

    /// Printable last `n` lines, with terminal escape sequences removed.
    public static func tail(_ text: String, lines n: Int = 20) -> [String] {
        // Drop ANSI escape sequences (SeaBIOS clears the screen) and control bytes.
        var out = String.UnicodeScalarView()
        var inEscape = false
        for u in text.unicodeScalars {
            if inEscape {
                if u.value >= 0x40 && u.value <= 0x7e && u != "[" { inEscape = false }
                continue
            }
            if u.value == 0x1b { inEscape = true; continue }
            if u == "\n" || (u.value >= 0x20 && u.value != 0x7f) { out.append(u) }
        }
        return String(out).split(separator: "\n", omittingEmptySubsequences: true).suffix(n).map(String.init)
    }
}
