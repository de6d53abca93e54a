import BenchSpec
import GuestWire
import Qcow2Geometry

/// One run of one cell, as written to `results.jsonl`. This is the single
/// source of truth: every report is derived from a list of these.
///
/// Stability: fields are only added within a `schemaVersion`; removing or
/// changing the meaning of a field bumps it.
public struct RunRecord: Hashable, Sendable, Codable {
    public static let currentSchemaVersion = 2

    public var schemaVersion: Int
    public var cellID: String
    public var cell: Cell
    /// 1-based repetition of this cell (the block, for a slot).
    public var repetition: Int
    /// Position of this run in the executed order (0-based).
    public var sequence: Int
    /// 1-based attempt of this repetition (a failed run is retried); nil in
    /// records written before retries existed, meaning 1.
    public var attempt: Int?
    public var status: RunStatus
    /// Why the run failed, one line; nil when it succeeded.
    public var failure: String?
    /// Last lines of the guest console and QEMU's stderr, kept for failures.
    public var consoleTail: [String]?
    public var stderrTail: [String]?
    /// What the guest measured; nil when the run failed before a result.
    public var result: GuestResult?
    /// The cache QEMU builds for this cell under its rules (nil for reference cells).
    public var effective: EffectiveCache?
    public var provenance: Provenance
    /// Seconds spent preparing the image, and from QEMU start to exit.
    public var prepSeconds: Double
    public var wallSeconds: Double
    /// QEMU's resident memory over the run (nil for runs that never started).
    public var memory: MemoryProfile?
    /// Host milliseconds from QEMU start until the guest driver reported ready.
    public var hostBootMillis: Int?
    /// Phase boundaries the guest announced, timed on the host clock (the
    /// one `memory` samples use); nil for single-phase workloads.
    public var phaseMarks: [PhaseMark]?
    /// Set when the run was one slot of a shared guest (schema 2): which
    /// guest, block and position, how the warm-up ended, and the host's
    /// noise over the measured window. `repetition` is then the block.
    public var slot: SlotInfo?
    /// A run with a guest of its own: the host's noise and QEMU's CPU time
    /// per thread role from the driver's first I/O to its result (warm-up
    /// included, 100 ms polling); nil in shared-guest slots (see `slot`).
    public var host: HostNoise?

    public init(
        cell: Cell, repetition: Int, sequence: Int, attempt: Int = 1, status: RunStatus, failure: String? = nil,
        consoleTail: [String]? = nil, stderrTail: [String]? = nil, result: GuestResult?, provenance: Provenance,
        prepSeconds: Double, wallSeconds: Double
    ) {
        self.schemaVersion = Self.currentSchemaVersion
        self.cellID = cell.id
        self.cell = cell
        self.repetition = repetition
        self.sequence = sequence
        self.attempt = attempt == 1 ? nil : attempt
        self.status = status
        self.failure = failure
        self.consoleTail = consoleTail
        self.stderrTail = stderrTail
        self.result = result
        self.effective = cell.effectiveCache
        self.provenance = provenance
        self.prepSeconds = prepSeconds
        self.wallSeconds = wallSeconds
    }
}

public enum RunStatus: String, Hashable, Sendable, Codable {
    case ok
    case failed
}

/// Where and how a number was measured. Two records are comparable only when
/// their environments match; `compare` warns when they do not.
public struct Provenance: Hashable, Sendable, Codable {
    public var qemuVersion: String
    /// `kvm` or `tcg`, as actually used.
    public var accel: String
    /// Why this accelerator: `requested`, or the probe's finding.
    public var accelReason: String
    public var guestKernel: String
    public var hostCPU: String
    public var hostKernel: String
    /// File system type of the directory holding the images (ext4, xfs, tmpfs…).
    public var imageFilesystem: String
    public var gitRevision: String
    public var matrixName: String
    public var matrixHash: String
    /// Seed of the run order and of the guest's offset generator.
    public var seed: UInt64
    /// UTC start time, ISO 8601.
    public var startedAt: String
    /// The exact argv QEMU was started with.
    public var qemuCommandLine: [String]
    /// `I/N` when the run was shard I of N of its matrix (`--shard`); nil
    /// for an unsharded run. `bench merge` checks that every shard is there
    /// exactly once.
    public var shard: String?
    /// The QEMU build that ran this record (`--qemu-build`): name, binary,
    /// `--version` and SHA-256. nil in records written before builds existed
    /// (they ran the `system` build, QEMU on PATH).
    public var qemuBuild: QemuBuildProvenance?
    /// The build the others are compared against (the first of
    /// `host.qemu_build`); nil with a single build.
    public var baseBuild: String?

    public init(
        qemuVersion: String, accel: String, accelReason: String, guestKernel: String, hostCPU: String, hostKernel: String,
        imageFilesystem: String, gitRevision: String, matrixName: String, matrixHash: String, seed: UInt64,
        startedAt: String, qemuCommandLine: [String]
    ) {
        self.qemuVersion = qemuVersion
        self.accel = accel
        self.accelReason = accelReason
        self.guestKernel = guestKernel
        self.hostCPU = hostCPU
        self.hostKernel = hostKernel
        self.imageFilesystem = imageFilesystem
        self.gitRevision = gitRevision
        self.matrixName = matrixName
        self.matrixHash = matrixHash
        self.seed = seed
        self.startedAt = startedAt
        self.qemuCommandLine = qemuCommandLine
    }
}

/// Which QEMU binary measured a record, so two builds' numbers can never be
/// mistaken for each other and a build can be found again by its hash.
public struct QemuBuildProvenance: Hashable, Sendable, Codable {
    public var name: String
    /// Absolute path of `qemu-system-x86_64` (or the wrapper given).
    public var path: String
    /// First line of `--version`.
    public var version: String
    /// SHA-256 of the binary at `path`, lowercase hex.
    public var sha256: String
    /// Absolute path of the build's `qemu-img`.
    public var qemuImg: String

    public init(name: String, path: String, version: String, sha256: String, qemuImg: String) {
        self.name = name
        self.path = path
        self.version = version
        self.sha256 = sha256
        self.qemuImg = qemuImg
    }
}

/// Resident memory of the QEMU process, sampled from /proc/PID/status while
/// the guest runs: what the caches cost, and what `cache-clean-interval`
/// gives back when the guest goes idle. Samples are taken about every
/// `intervalMillis` and carry their own time, so a missed tick is a gap,
/// never a repeated value.
public struct MemoryProfile: Hashable, Sendable, Codable {
    /// Nominal sampling period in milliseconds.
    public var intervalMillis: Int
    public var samples: [RSSSample]

    public init(intervalMillis: Int, samples: [RSSSample]) {
        self.intervalMillis = intervalMillis
        self.samples = samples
    }

    public var peakKiB: UInt64 { samples.map(\.kib).max() ?? 0 }

    /// The latest sample taken at or before `millis` after QEMU started.
    public func sample(atMillis millis: Int) -> RSSSample? {
        samples.last { $0.atMillis <= millis }
    }
}

/// One VmRSS reading: KiB at `atMillis` after QEMU started.
public struct RSSSample: Hashable, Sendable, Codable {
    public var atMillis: Int
    public var kib: UInt64

    public init(atMillis: Int, kib: UInt64) {
        self.atMillis = atMillis
        self.kib = kib
    }
}

/// A phase boundary (`idle-start 1`, `idle-end 1`: the phase index) seen on
/// the console `atMillis` after QEMU started (within the 100 ms console poll).
public struct PhaseMark: Hashable, Sendable, Codable {
    public var label: String
    public var atMillis: Int

    public init(label: String, atMillis: Int) {
        self.label = label
        self.atMillis = atMillis
    }
}

/// Where a slot ran inside a shared guest, and what the host saw meanwhile.
public struct SlotInfo: Hashable, Sendable, Codable {
    /// Guests of one matrix run, numbered from 1 in start order.
    public var guest: Int
    /// The group of cells that shared the guest (`GuestGroup.id`).
    public var group: Int
    /// 1-based block, and 0-based position in the block's shuffled order.
    public var block: Int
    public var position: Int
    /// The disk's virtio serial inside the guest.
    public var disk: String
    /// Warm-up length, and whether IOPS were steady when it ended (false:
    /// it hit the cap; such slots are flagged in reports).
    public var warmupMillis: Int
    public var settled: Bool
    /// Host figures over the measured window (nil if not sampled).
    public var host: HostNoise?
    /// io_submit calls and the I/Os they carried inside the window.
    public var submitCalls: UInt64?
    public var submitted: UInt64?
    /// Waits in the window where the guest driver's spin ran out and it
    /// slept (`SlotResult.blockingWaits`).
    public var blockingWaits: UInt64?
    /// Guest milliseconds of the window the driver spent waiting for
    /// completions (`SlotResult.waitMillis`; nil from older guests and fio).
    public var waitMillis: Double?
    /// Interrupts the guest took for the disk's request queues in the window
    /// (`SlotResult.interrupts`): completion notifications; per write, how
    /// often the driver was woken. Nil from older guests.
    public var interrupts: UInt64?
    /// The run's ratio-CI target (fraction), when blocks were added until it
    /// was met: reports list the cells that missed it.
    public var targetCI: Double?
    /// QEMU's qcow2 cache counters over the measured window (nil: the slot
    /// was not traced, or the record predates tracing).
    public var cache: SlotCacheCounters?

    public init(
        guest: Int, group: Int, block: Int, position: Int, disk: String, warmupMillis: Int, settled: Bool,
        host: HostNoise? = nil, submitCalls: UInt64? = nil, submitted: UInt64? = nil, targetCI: Double? = nil
    ) {
        self.targetCI = targetCI
        self.guest = guest
        self.group = group
        self.block = block
        self.position = position
        self.disk = disk
        self.warmupMillis = warmupMillis
        self.settled = settled
        self.host = host
        self.submitCalls = submitCalls
        self.submitted = submitted
    }
}

/// Host load over a measured window: CPU steal and busy share from
/// /proc/stat, and the QEMU process's CPU time per thread role.
public struct HostNoise: Hashable, Sendable, Codable {
    public var seconds: Double
    public var stealPercent: Double
    public var hostBusyPercent: Double
    public var qemuVcpuMillis: Double
    public var qemuIothreadMillis: Double
    public var qemuMainLoopMillis: Double
    public var qemuOtherMillis: Double

    public init(
        seconds: Double, stealPercent: Double, hostBusyPercent: Double, qemuVcpuMillis: Double, qemuIothreadMillis: Double,
        qemuMainLoopMillis: Double, qemuOtherMillis: Double
    ) {
        self.seconds = seconds
        self.stealPercent = stealPercent
        self.hostBusyPercent = hostBusyPercent
        self.qemuVcpuMillis = qemuVcpuMillis
        self.qemuIothreadMillis = qemuIothreadMillis
        self.qemuMainLoopMillis = qemuMainLoopMillis
        self.qemuOtherMillis = qemuOtherMillis
    }

    /// All QEMU threads together.
    public var qemuMillis: Double { qemuVcpuMillis + qemuIothreadMillis + qemuMainLoopMillis + qemuOtherMillis }

    /// Steal above this share of the window makes a slot suspect.
    public static let highStealPercent = 5.0
}

/// QEMU's qcow2 cache events counted over one slot's measured window, from
/// its trace log (`-trace`, `-D`, `-msg timestamp=on`): events are switched
/// on at the guest's MEASURE and off at its END, and only lines stamped
/// inside `[start, end)` of the host's wall clock count.
public struct SlotCacheCounters: Hashable, Sendable, Codable {
    /// Host wall clock (seconds since the epoch) of the traced window.
    public var startSeconds: Double
    public var endSeconds: Double
    public var l2Lookups: UInt64
    public var l2Misses: UInt64
    public var refcountLookups: UInt64
    public var refcountMisses: UInt64
    /// Misses whose read was timed (read -> done on one coroutine), and that time.
    public var timedReads: UInt64
    public var missReadMeanMicros: Double?
    public var missReadP50Micros: Double?
    public var missReadP99Micros: Double?

    public init(
        startSeconds: Double, endSeconds: Double, l2Lookups: UInt64, l2Misses: UInt64, refcountLookups: UInt64,
        refcountMisses: UInt64, timedReads: UInt64 = 0, missReadMeanMicros: Double? = nil, missReadP50Micros: Double? = nil,
        missReadP99Micros: Double? = nil
    ) {
        self.startSeconds = startSeconds
        self.endSeconds = endSeconds
        self.l2Lookups = l2Lookups
        self.l2Misses = l2Misses
        self.refcountLookups = refcountLookups
        self.refcountMisses = refcountMisses
        self.timedReads = timedReads
        self.missReadMeanMicros = missReadMeanMicros
        self.missReadP50Micros = missReadP50Micros
        self.missReadP99Micros = missReadP99Micros
    }

    /// Length of the traced window.
    public var seconds: Double { max(0, endSeconds - startSeconds) }

    /// Writes inside the traced window, estimated from the slot's IOPS (the
    /// traced window starts a few milliseconds after the guest's own).
    public func writes(iops: Double) -> Double { iops * seconds }
}

extension RunRecord {
    /// CPU time of QEMU's vCPU thread in the window that went to the guest
    /// driver's waiting, not to work: the driver spins on the ring while it
    /// waits, so the vCPU burns CPU whether or not there is work. Estimated
    /// as the vCPU's CPU time times the driver's wait share of the window
    /// (guest interrupt handling that falls inside a wait counts as
    /// waiting). Nil for records without both figures (fio, older guests,
    /// runs outside a shared guest), whose vCPU halted when its driver slept.
    public var vcpuWaitMillis: Double? {
        guard let slot, let host = slot.host, let wait = slot.waitMillis, let window = result?.seconds, window > 0 else { return nil }
        return host.qemuVcpuMillis * min(1, max(0, wait) / (window * 1000))
    }

    /// QEMU's CPU time over the window (all threads) less the vCPU's
    /// waiting (`vcpuWaitMillis`): what the writes cost QEMU.
    public var qemuWorkMillis: Double? {
        guard let host = slot?.host else { return nil }
        return host.qemuMillis - (vcpuWaitMillis ?? 0)
    }
}
