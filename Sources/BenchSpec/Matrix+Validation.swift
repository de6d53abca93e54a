import Qcow2Geometry

extension Matrix {
    /// Checks every rule a matrix must meet before anything starts, and throws
    /// the first broken one. `parse` calls it; so should code that builds or
    /// edits a matrix by hand.
    ///
    /// Rules on combinations (cache settings against the image geometry,
    /// `aio=native` against the host cache mode) are checked only on cells
    /// that remain after exclusions, so an `[[exclude]]` can drop a
    /// combination QEMU would refuse. An exclusion that matches no cell is
    /// allowed (it may be kept while an axis is narrowed for a quick run).
    public func validate() throws(MatrixError) {
        do throws(InvalidValue) {
            try validateScalars()
            try validateAxes()
        } catch {
            throw MatrixError(source: source, error)
        }

        let product = productSize
        if (product ?? .max) > Self.maxCells {
            let count = product.map { "\($0)" } ?? "more than \(Int.max)"
            throw MatrixError(
                source: source,
                reason: .matrix(key: "matrix", message: "the axes multiply to \(count) cells; at most \(Self.maxCells) are allowed"))
        }
        let cells = qcow2Cells()
        if cells.isEmpty {
            throw MatrixError(
                source: source,
                reason: .matrix(key: "exclude", message: "the [[exclude]] tables drop every qcow2 cell; nothing would be measured"))
        }
        do throws(InvalidValue) {
            for cell in cells { try Self.validateCombination(cell) }
            try validatePairing(cells)
        } catch {
            throw MatrixError(source: source, error)
        }
    }

    /// `min_blocks` <= `max_blocks`, and `isolation = "shared"` only for
    /// cells that can share a guest.
    private func validatePairing(_ cells: [Cell]) throws(InvalidValue) {
        if let lo = pairing.minBlocks, let hi = pairing.maxBlocks, lo > hi {
            throw InvalidValue(field: "workload.min_blocks", value: "\(lo)", rule: "must not exceed workload.max_blocks (\(hi))")
        }
        if pairing.isolation == .shared, let cell = cells.first(where: { Isolation.sharingObstacle($0) != nil }),
           let why = Isolation.sharingObstacle(cell) {
            throw InvalidValue(
                field: "workload.isolation", value: "shared",
                rule: "cell \(cell.id) cannot share a guest: \(why); use \"guest-per-run\" or leave isolation unset so the harness picks per cell")
        }
    }

    /// Letters, digits, `-`, `_` and `.`: safe in file names and CSV cells.
    static func isValidName(_ name: String) -> Bool {
        let allowed: Set<Character> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        return (1...64).contains(name.count) && name.allSatisfy(allowed.contains)
    }

    private func validateScalars() throws(InvalidValue) {
        if !Self.isValidName(name) {
            throw InvalidValue(
                field: "name", value: name,
                rule: "must be 1 to 64 characters: letters, digits, '-', '_' or '.'")
        }
        try workload.validate(spelling: .matrix)
        if workload.runtime.milliseconds == 0 {
            throw InvalidValue(field: "workload.runtime", value: workload.runtime.description, rule: "must be greater than zero")
        }
        if !Self.repetitionRange.contains(repetitions) {
            throw InvalidValue(
                field: "workload.repeat", value: "\(repetitions)",
                rule: "must be from \(Self.repetitionRange.lowerBound) to \(Self.repetitionRange.upperBound)")
        }
    }

    private func validateAxes() throws(InvalidValue) {
        for axis in Axis.allCases {
            let values = values(of: axis)
            if values.isEmpty {
                throw InvalidValue(field: axis.keyPath, value: "[]", rule: "an axis must list at least one value")
            }
            var seen: Set<String> = []
            for value in values {
                if seen.insert(value).inserted { continue }
                throw InvalidValue(
                    field: axis.keyPath, value: value,
                    rule: "appears twice; list each value once (sizes compare by value, so 64K and 65536 are the same)")
            }
        }
        for disk in diskSizes { try ImageGeometry.validateDiskSize(disk, field: FieldSpelling.matrix.name("image", "disk_size")) }
        for cluster in clusterSizes {
            for bits in refcountBits {
                try ImageGeometry(diskSize: .gib(1), clusterSize: cluster, refcountBits: bits)
                    .validate(clusterField: "image.cluster_size", refcountField: "image.refcount_bits")
            }
        }
        for cache in hostCaches where !HostIO.allowedCache.contains(cache) {
            throw InvalidValue(field: "host.cache", value: cache, rule: "must be one of \(HostIO.allowedCache.joined(separator: ", "))")
        }
        for aio in hostAios where !HostIO.allowedAio.contains(aio) {
            throw InvalidValue(field: "host.aio", value: aio, rule: "must be one of \(HostIO.allowedAio.joined(separator: ", "))")
        }
        for build in qemuBuilds { try QemuBuildName.validate(build, field: "host.qemu_build") }
    }

    /// Rules QEMU would enforce (or silently work around) when opening this
    /// cell's image, checked here so a bad matrix fails before the first boot.
    static func validateCombination(_ cell: Cell) throws(InvalidValue) {
        try cell.validate(spelling: .matrix)
        if cell.hostIO.aio == "native" && !cell.hostIO.direct {
            throw InvalidValue(
                field: "host.aio", value: "native",
                rule: "needs O_DIRECT, but host.cache \"\(cell.hostIO.cache)\" is buffered and QEMU refuses the pair; use cache none or directsync, aio threads or io_uring, or an [[exclude]] with cache = \"\(cell.hostIO.cache)\" and aio = \"native\"")
        }
    }
}
