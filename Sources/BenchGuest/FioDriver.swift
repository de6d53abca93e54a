import Glibc
import GuestWire

// `drv=fio`: run the host's fio (copied into the initramfs's fio variant)
// with the job equivalent to the native loop, then read its JSON report into
// the same record. fio's stdout goes to stderr, so the console protocol on
// stdout stays ours alone.

/// - Parameter dump: copy fio's report and log to stderr (`ConsoleProtocol.fioDumpBegin`).
func runFio(_ spec: WorkloadSpec, dump: Bool) throws(GuestFailure) -> GuestResult {
    let deviceBytes = try fioPreconditions(device: spec.device, blockSize: spec.blockSize)

    let stat = DiskStat(device: spec.device)
    let writesBefore = stat.read()?.writes ?? 0
    let pid = try spawn(
        FioJob.executable, arguments: FioJob.arguments(spec: spec, deviceBytes: deviceBytes),
        environment: ["LD_LIBRARY_PATH=\(FioJob.libraryDirectory)", "PATH=/bin"])

    // fio's first I/O: the first moment the disk shows a write in flight or
    // done, polled every 2 ms until then and left alone after. The ready
    // marker follows it, so the host's boot time also ends at the first I/O
    // (fio takes about half a second to start under TCG).
    var bootToFirstIO: UInt64 = 0
    var status: Int32 = 0
    var exited = false
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { exited = true; break }
        if r < 0, errno != EINTR { throw .syscall("waitpid(fio)", errno) }
        if let s = stat.read(), s.inFlight > 0 || s.writes > writesBefore {
            bootToFirstIO = uptimeMillis()
            emit("\(ConsoleProtocol.readyMarker) uptime_ms=\(bootToFirstIO)")
            break
        }
        usleep(2000)
    }
    while !exited {
        let r = waitpid(pid, &status, 0)
        if r == pid { exited = true } else if errno != EINTR { throw .syscall("waitpid(fio)", errno) }
    }
    if let problem = fioExitText(status) { throw .spec(problem + " (its messages are above on the console)") }

    guard let report = readText(FioJob.reportPath) else { throw .syscall("read(\(FioJob.reportPath))", errno) }
    let log = readText(FioJob.iopsLogPath)
    if dump {
        let text =
            "\(ConsoleProtocol.fioDumpBegin) \(FioJob.reportPath)\n\(report)\n\(ConsoleProtocol.fioDumpBegin) \(FioJob.iopsLogPath)\n\(log ?? "")\n\(ConsoleProtocol.fioDumpEnd)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
    do {
        return try FioJob.result(
            report: report, iopsLog: log, spec: spec, bootToFirstIOMillis: bootToFirstIO, deviceBytes: deviceBytes)
    } catch {
        throw .spec(error.description)
    }
}

/// What fio needs before it starts, for a run or a slot: the device's size
/// (at least one block), fio in this initramfs, and /tmp for its report.
func fioPreconditions(device: String, blockSize: UInt32) throws(GuestFailure) -> UInt64 {
    let path = "/dev/\(device)"
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw .syscall("open(\(path), O_RDONLY)", errno) }
    let deviceBytes = UInt64(max(0, lseek(fd, 0, SEEK_END)))
    close(fd)
    guard deviceBytes >= UInt64(blockSize) else {
        throw .spec("\(path) has \(deviceBytes) bytes, less than one block of \(blockSize)")
    }
    guard access(FioJob.executable, X_OK) == 0 else {
        throw .spec("\(FioJob.executable) is not in this initramfs: drv=fio needs the fio variant (the host booted the native one)")
    }
    if mkdir("/tmp", 0o1777) != 0, errno != EEXIST { throw .syscall("mkdir(/tmp)", errno) }
    return deviceBytes
}

/// posix_spawn with stdout redirected to stderr, or both to `output`
/// (created, truncated) when given.
func spawn(_ executable: String, arguments: [String], environment: [String], output: String? = nil) throws(GuestFailure) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let output {
        posix_spawn_file_actions_addopen(&actions, 2, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    }
    posix_spawn_file_actions_adddup2(&actions, 2, 1)
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
    guard rc == 0 else { throw .syscall("posix_spawn(\(executable))", rc) }
    return pid
}

/// A whole (small) file as text; nil if it cannot be opened or read.
func readText(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0, errno == EINTR { continue }
        guard n >= 0 else { return nil }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// `/sys/block/DEV/stat`: the block layer's own counters for the device.
struct DiskStat {
    let path: String

    init(device: String) { path = "/sys/block/\(device)/stat" }

    /// Completed writes (field 5) and I/Os in flight (field 9).
    func read() -> (writes: UInt64, inFlight: UInt64)? {
        guard let text = readText(path) else { return nil }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt64($0) }
        guard fields.count >= 9 else { return nil }
        return (fields[4], fields[8])
    }
}

/// The guest's interrupts for one disk's request queues
/// (`VirtioInterrupts`), sampled at a window's start and end.
struct DiskInterrupts {
    let virtioDevice: String?

    init(device: String) {
        var target = [CChar](repeating: 0, count: 512)
        let n = readlink("/sys/block/\(device)/device", &target, target.count)
        virtioDevice = n > 0 ? VirtioInterrupts.device(fromSysfsLink: String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)) : nil
    }

    /// Interrupts so far, or nil when the device or its lines are not found.
    func read() -> UInt64? {
        guard let virtioDevice, let text = readText("/proc/interrupts") else { return nil }
        return VirtioInterrupts.count(procInterrupts: text, device: virtioDevice)
    }

    /// Interrupts between two samples.
    static func taken(from before: UInt64?, to after: UInt64?) -> UInt64? {
        guard let before, let after, after >= before else { return nil }
        return after - before
    }
}
