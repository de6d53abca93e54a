import Foundation
import Glibc

/// What removing an image costs per write on this host, now: a sparse
/// probe file in the work directory takes `writes` random 4 KiB O_DIRECT
/// writes (as QEMU writes into a sparse image with `cache.direct=on`), and
/// its unlink is timed.
///
/// Why: the budget has to leave time to remove the run's images, and that
/// time is the host's, not the harness's. On ext4 mounted with `discard`
/// every extent a write allocated is discarded on unlink; here that cost
/// 26 µs per write on a quiet host and 134 µs under CPU steal, so a fixed
/// figure let a 5-minute budget run to 6.5 minutes.
public enum RemovalProbe {
    /// Writes in the probe: enough extents that one slow discard does not
    /// decide the figure, few enough to take about a second.
    public static let defaultWrites = 4096

    /// Seconds per write the unlink took; nil when the probe could not run
    /// (the caller keeps `ImageRemoval.quietHostSecondsPerWrite`).
    public static func secondsPerWrite(directory: String, writes: Int = defaultWrites) -> Double? {
        let path = directory + "/removal-probe.img"
        let blockSize = 4096
        let span: UInt64 = 16 << 30
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | directFlag, 0o600)
        guard fd >= 0 else { return nil }
        var removed = false
        defer { if !removed { unlink(path) } }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, blockSize, blockSize) == 0, let buffer = raw else {
            close(fd)
            return nil
        }
        defer { free(buffer) }
        memset(buffer, 0x5A, blockSize)
        guard ftruncate(fd, off_t(span)) == 0 else {
            close(fd)
            return nil
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<writes {
            // SplitMix64: offsets spread like the guest's uniform writes.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let offset = off_t((z % (span / UInt64(blockSize))) * UInt64(blockSize))
            guard pwrite(fd, buffer, blockSize, offset) == blockSize else {
                close(fd)
                return nil
            }
        }
        guard fdatasync(fd) == 0 else {
            close(fd)
            return nil
        }
        close(fd)
        let clock = ContinuousClock()
        let start = clock.now
        guard unlink(path) == 0 else { return nil }
        removed = true
        let d = clock.now - start
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return seconds / Double(writes)
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
