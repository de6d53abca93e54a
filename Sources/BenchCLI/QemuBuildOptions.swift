import ArgumentParser
import BenchSpec
import Orchestrator
import Qcow2Geometry

/// `--qemu-build NAME=PATH` and `--qemu-img-build NAME=PATH`: the QEMU
/// builds a command may run, by name. Matrix files name builds
/// (`host.qemu_build`) and never carry paths; the paths come from here.
/// The build `system` is QEMU on PATH unless given here.
struct QemuBuildOptions: ParsableArguments {
    @Option(
        name: .customLong("qemu-build"),
        help: ArgumentHelp(
            "A QEMU build by name: PATH is its qemu-system-x86_64 (qemu-img is looked for beside it); repeatable, the first is the base the others are compared against.",
            valueName: "name=path"))
    var builds: [String] = []

    @Option(
        name: .customLong("qemu-img-build"),
        help: ArgumentHelp("The qemu-img of build NAME, when it is not beside its qemu-system-x86_64.", valueName: "name=path"))
    var imgBuilds: [String] = []

    /// One `NAME=PATH` option value.
    struct Given: Equatable {
        var name: String
        var path: String
    }

    static func split(_ text: String, field: String) throws -> Given {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex, text.index(after: eq) != text.endIndex else {
            throw ValidationError(InvalidValueText.line(field: field, value: text, rule: "must be NAME=PATH, e.g. patched=/src/qemu/build/qemu-system-x86_64"))
        }
        let name = String(text[..<eq])
        try parsed { () throws(InvalidValue) in try QemuBuildName.validate(name, field: field) }
        return Given(name: name, path: String(text[text.index(after: eq)...]))
    }

    /// The `--qemu-build` values, in order; names unique.
    func given() throws -> [Given] {
        var out: [Given] = []
        for b in builds {
            let g = try Self.split(b, field: "--qemu-build")
            if out.contains(where: { $0.name == g.name }) {
                throw ValidationError(InvalidValueText.line(field: "--qemu-build", value: b, rule: "build \"\(g.name)\" is given twice; give each name once"))
            }
            out.append(g)
        }
        return out
    }

    func givenImages() throws -> [String: String] {
        let names = try given().map(\.name) + [QemuBuildName.system]
        var out: [String: String] = [:]
        for b in imgBuilds {
            let g = try Self.split(b, field: "--qemu-img-build")
            guard names.contains(g.name) else {
                throw ValidationError(InvalidValueText.line(field: "--qemu-img-build", value: b, rule: "names no build given with --qemu-build"))
            }
            out[g.name] = g.path
        }
        return out
    }

    /// Bad input is refused here, before anything runs: malformed or
    /// repeated `NAME=PATH`, a `--qemu-img-build` for no build, and paths
    /// that are missing, directories or not executable.
    func validate() throws {
        let images = try givenImages()
        for g in try given() {
            do { _ = try QemuBuild.locate(name: g.name, qemu: g.path, qemuImg: images[g.name]) } catch {
                throw ValidationError(error.description)
            }
        }
    }

    /// The one build of a command that measures a single build (`run`,
    /// `calibrate`): the `--qemu-build` given, or `system`. Two or more are
    /// refused: builds are compared, paired block by block, with `--matrix`.
    func single(command: String) throws -> String {
        let names = try names()
        guard names.count == 1 else {
            throw ValidationError(
                InvalidValueText.line(
                    field: "--qemu-build", value: builds.joined(separator: " "),
                    rule: "bench \(command) measures one build; give one, or compare builds with bench --matrix --qemu-build A=PATH --qemu-build B=PATH"))
        }
        return names[0]
    }

    /// The names a command runs: the `--qemu-build` names in order, or
    /// `system` when none was given.
    func names() throws -> [String] {
        let g = try given().map(\.name)
        return g.isEmpty ? [QemuBuildName.system] : g
    }

    /// The builds named by a matrix's `host.qemu_build`: a matrix that
    /// names none runs the builds given here (in their order); a matrix that
    /// names some needs every one given (`system` excepted, it is on PATH)
    /// and uses no other.
    func apply(to matrix: inout Matrix) throws {
        let g = try given().map(\.name)
        if matrix.qemuBuilds == [QemuBuildName.system] {
            if !g.isEmpty { matrix.qemuBuilds = g }
            return
        }
        for name in matrix.qemuBuilds where name != QemuBuildName.system && !g.contains(name) {
            throw ValidationError(
                InvalidValueText.line(
                    field: "\(matrix.source): host.qemu_build", value: name,
                    rule: "no build of that name was given; pass --qemu-build \(name)=PATH (given: \(g.isEmpty ? "none" : g.joined(separator: ", ")))"))
        }
        for name in g where !matrix.qemuBuilds.contains(name) {
            throw ValidationError(
                InvalidValueText.line(
                    field: "--qemu-build", value: name,
                    rule: "the matrix's host.qemu_build does not list it (\(matrix.qemuBuilds.joined(separator: ", "))); remove it or add it to the file"))
        }
    }

    /// Checks and identifies one build, with its error as a value (for
    /// `doctor`, which reports rather than stops).
    func check(_ name: String) async -> Result<QemuBuild, QemuBuildError> {
        let path = (try? given())?.first { $0.name == name }?.path
        let image = (try? givenImages())?[name]
        do { return .success(try await QemuBuild.resolve(name: name, qemu: path, qemuImg: image)) } catch { return .failure(error) }
    }

    /// Checks and identifies the builds `names` (version, hash): the first
    /// failure is bad input (exit 2), before anything is started.
    func resolve(_ names: [String]) async throws -> [QemuBuild] {
        let g = try given()
        let images = try givenImages()
        var out: [QemuBuild] = []
        for name in names {
            do {
                out.append(try await QemuBuild.resolve(name: name, qemu: g.first { $0.name == name }?.path, qemuImg: images[name]))
            } catch {
                throw fail(error.description, code: 2)
            }
        }
        return out
    }
}

extension QemuBuildOptions {
    /// The options that give these builds again (a resume command line).
    var arguments: [String] {
        builds.flatMap { ["--qemu-build", $0] } + imgBuilds.flatMap { ["--qemu-img-build", $0] }
    }
}

/// `InvalidValue`'s one-line form, for options checked here.
enum InvalidValueText {
    static func line(field: String, value: String, rule: String) -> String {
        InvalidValue(field: field, value: value, rule: rule).description
    }
}
