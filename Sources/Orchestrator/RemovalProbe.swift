import Foundation
import Glibc
import Synchronization

/// What removing an image costs per extent on this host, now: two sparse
/// probe files in the work directory take random 4 KiB O_DIRECT writes (as
/// QEMU writes into a sparse image with `cache.direct=on`), each write an
/// extent of its own in so sparse a file, and the two are unlinked at once,
/// as `ImageRemoval.remove` removes a run's images.
///
/// Why: the budget has to leave time to remove the run's images, and that
/// time is the host's, not the harness's. On ext4 mounted with `discard`
/// every extent a write allocated is discarded on unlink; here that cost
/// 26 µs per write on a quiet host and 134 µs under CPU steal, so a fixed
/// figure let a 5-minute budget run to 6.5 minutes. One file unlinked alone
/// said 77-107 µs where six runs' parallel removal then took 42-67 µs per
/// write, so the probe removes in parallel too.
public enum RemovalProbe {
    /// Writes in the probe, over both files: enough extents that one slow
    /// discard does not decide the figure, few enough to take about a second.
    public static let defaultWrites = 4096
    /// Files removed at once, as a run removes its images.
    static let files = 2

    /// Seconds per write (= per extent) the parallel unlink took; nil when
    /// the probe could not run (the caller keeps
    /// `ImageRemoval.quietHostSecondsPerExtent`).
    public static func secondsPerExtent(directory: String, writes: Int = defaultWrites) -> Double? {
        let paths = (0..<files).map { "\(directory)/removal-probe-\($0).img" }
        var made: [String] = []
        defer { for p in made { unlink(p) } }
        for (i, path) in paths.enumerated() {
            guard write(path, writes: writes / files, seed: 0x9E37_79B9_7F4A_7C15 &* UInt64(i + 1)) else { return nil }
            made.append(path)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            if unlink(paths[i]) != 0 { failures.withLock { $0 += 1 } }
        }
        made = []
        guard failures.withLock({ $0 }) == 0 else { return nil }
        let d = clock.now - start
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return seconds / Double(writes / files * files)
    }

    /// A 16 GiB sparse file at `path` with `writes` random 4 KiB writes,
    /// synced; on failure the file is removed.
    private static func write(_ path: String, writes: Int, seed: UInt64) -> Bool {
        let blockSize = 4096
        let span: UInt64 = 16 << 30
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | directFlag, 0o600)
        guard fd >= 0 else { return false }
        var written = false
        defer {
            close(fd)
            if !written { unlink(path) }
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, blockSize, blockSize) == 0, let buffer = raw else { return false }
        defer { free(buffer) }
        memset(buffer, 0x5A, blockSize)
        guard ftruncate(fd, off_t(span)) == 0 else { return false }
        var state = seed
        for _ in 0..<writes {
            // SplitMix64: offsets spread like the guest's uniform writes.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let offset = off_t((z % (span / UInt64(blockSize))) * UInt64(blockSize))
            guard pwrite(fd, buffer, blockSize, offset) == blockSize else { return false }
        }
        written = fdatasync(fd) == 0
        return written
    }

    /// O_DIRECT: not exported by Glibc's Swift overlay (it needs
    /// _GNU_SOURCE); the kernel ABI fixes it per architecture.
    static var directFlag: Int32 {
        #if arch(arm64) || arch(arm)
            return 0o200000
        #else
            return 0o40000
        #endif
    }
}
