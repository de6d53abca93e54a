import BenchResults
import ArgumentParser
import BenchSpec
import Foundation
import Orchestrator
import Reporting

/// `bench compare BASELINE CURRENT`: the regression gate of nightly CI.
/// Exit 1 on a significant regression beyond the threshold, 0 otherwise,
/// 2 on bad input.
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two results directories cell by cell; exit 1 on a significant regression.",
        discussion: """
            Cells are matched by configuration (cell ID); cells on one side only are listed. For IOPS and p99 \
            latency, a change is a regression when it is significant at --confidence (two-sided Welch's t-test \
            with at least 3 successful runs per side, exact Mann-Whitney U when a side has 2, no test with 1) and \
            larger than --threshold. Different environments (QEMU, accelerator, host CPU, kernels, file system) \
            are shown as a warning first.

            Two QEMU builds: `bench compare DIR --builds base,patched` compares the builds measured in one run \
            (`bench --matrix --qemu-build base=… --qemu-build patched=…`), gated on each cell's per-block build ratio \
            of IOPS and of writes per QEMU CPU millisecond (paired t-tests, Holm over cells x metrics). Two directories that each ran one build, under different names, are matched by \
            configuration without the build name, as across nights.

            Exit status: 0 no regression, 1 a regression, 2 bad input.
            """)

    @Argument(help: ArgumentHelp("Baseline results directory (or its results.jsonl).", valueName: "baseline"))
    var baseline: String

    @Argument(help: ArgumentHelp("Current results directory (or its results.jsonl); not with --builds.", valueName: "current"))
    var current: String?

    @Option(
        help: ArgumentHelp(
            "Compare two QEMU builds measured in one results directory (the only one given): the base, then the compared build.",
            valueName: "base,compared"))
    var builds: String?

    @OptionGroup var gate: GateOptions

    @Flag(help: "Print the comparison as JSON instead of Markdown.")
    var json = false

    func validate() throws {
        _ = try gate.criteria()
        if let builds {
            _ = try buildPair(builds)
            if let current {
                throw ValidationError(
                    "current: invalid value \"\(current)\": with --builds give one results directory, the run that measured both builds")
            }
        } else if current == nil {
            throw ValidationError("current: missing: give BASELINE and CURRENT, or one directory with --builds BASE,COMPARED")
        }
    }

    /// `base,patched` as two names.
    func buildPair(_ text: String) throws -> (base: String, compared: String) {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard names.count == 2, names.allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError(BuildComparisonError.notTwo(given: text).description)
        }
        guard names[0] != names[1] else { throw ValidationError(BuildComparisonError.same(name: names[0]).description) }
        return (names[0], names[1])
    }

    func run() async throws {
        let criteria = try gate.criteria()
        let comparison: Comparison
        if let builds {
            let pair = try buildPair(builds)
            let set = try ResultsInput.load(baseline)
            do {
                comparison = try compareBuilds(set, base: pair.base, compared: pair.compared, criteria: criteria, source: baseline)
            } catch { throw fail(error.description, code: 2) }
            guard !comparison.cells.isEmpty else {
                throw fail("\(baseline): builds \(pair.base) and \(pair.compared) measured no cell in common: nothing to compare", code: 2)
            }
        } else {
            let current = current ?? ""
            var baselineSet = try ResultsInput.load(baseline)
            var currentSet = try ResultsInput.load(current)
            // One build on each side, under different names (base one night,
            // patched the next): the same configurations, so match them.
            let b = baselineSet.buildNames, c = currentSet.buildNames
            if b.count == 1, c.count == 1, b != c {
                baselineSet = baselineSet.withoutBuilds
                currentSet = currentSet.withoutBuilds
            }
            comparison = compareResults(
                baseline: baselineSet, current: currentSet, criteria: criteria, baselineSource: baseline,
                currentSource: current)
            guard !comparison.cells.isEmpty else {
                throw fail(
                    "\(baseline) and \(current) have no cell in common (\(comparison.onlyInBaseline.count) vs \(comparison.onlyInCurrent.count) cells): nothing to compare",
                    code: 2)
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let data: Data
            do { data = try encoder.encode(comparison) } catch { throw fail("encoding the comparison: \(error)", code: 1) }
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(comparisonMarkdown(comparison), terminator: "")
        }
        if comparison.hasRegression { throw ExitCode(1) }
    }
}

/// The gate's settings, shared by `compare` and `replay` so that a replay
/// judges its nights exactly as the nightly comparison would.
struct GateOptions: ParsableArguments {
    @Option(help: "Confidence level of the tests, between 0 and 1.")
    var confidence: Double = 0.95

    @Option(help: ArgumentHelp("Smallest change that counts, in percent of the baseline mean (e.g. 5 or 5%).", valueName: "percent"))
    var threshold: String = "5%"

    func criteria() throws -> RegressionCriteria {
        guard confidence > 0, confidence < 1 else {
            throw ValidationError("--confidence: invalid value \"\(confidence)\": must be between 0 and 1, e.g. 0.95")
        }
        let digits = threshold.hasSuffix("%") ? String(threshold.dropLast()) : threshold
        guard let percent = Double(digits), percent.isFinite, percent >= 0, percent < 1000 else {
            throw ValidationError(
                "--threshold: invalid value \"\(threshold)\": must be a percentage from 0 to 1000, e.g. 5 or 5%")
        }
        return RegressionCriteria(confidence: confidence, thresholdPercent: percent)
    }
}

/// Reading the records of a results directory given on the command line;
/// every failure is bad input (exit 2), reported in one line.
enum ResultsInput {
    static func records(_ path: String) throws -> [RunRecord] {
        let jsonl = ReportFiles.locate(path).jsonl
        let records: [RunRecord]
        do { records = try ResultsLog.read(path: jsonl) } catch { throw fail(error.description, code: 2) }
        guard !records.isEmpty else { throw fail("\(jsonl): no records", code: 2) }
        return records
    }

    static func load(_ path: String) throws -> ResultSet { ResultSet(records: try records(path)) }
}
