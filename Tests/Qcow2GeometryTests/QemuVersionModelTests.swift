import Testing

@testable import Qcow2Geometry

/// Which QEMU builds the cache model describes (DESIGN.md §2b).
@Suite struct QemuVersionModelTests {
    @Test func versionsAreParsedFromVersionLines() {
        #expect(QemuVersion(parsing: "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)") == QemuVersion(7, 2, 22))
        #expect(QemuVersion(parsing: "QEMU emulator version 9.1.50 (v9.1.0-1234-gabcdef)") == QemuVersion(9, 1, 50))
        #expect(QemuVersion(parsing: "no number here") == nil)
    }

    @Test func olderThanFourIsRefusedAndExtendedL2NeedsFiveTwo() {
        // Before 4.0 the entry size did not fall to 4 KiB below full coverage; before 3.1 the defaults differed too.
        #expect(QemuCacheModel.unsupportedReason(QemuVersion(3, 1, 0)) != nil)
        #expect(QemuCacheModel.unsupportedReason(QemuVersion(4, 0, 0)) == nil)
        let plain = ImageGeometry(diskSize: .gib(16))
        let extended = ImageGeometry(diskSize: .gib(16), extendedL2: true)
        #expect(QemuCacheModel.unsupportedReason(QemuVersion(5, 1, 0), geometry: plain) == nil)
        #expect(
            QemuCacheModel.unsupportedReason(QemuVersion(5, 1, 0), geometry: extended)
                == "QEMU 5.1.0 has no extended_l2 (16-byte L2 entries came in 5.2.0)")
        #expect(QemuCacheModel.unsupportedReason(QemuVersion(5, 2, 0), geometry: extended) == nil)
        #expect(QemuCacheModel.unsupportedReason(QemuVersion(2, 12, 0), geometry: plain)?.contains("older than 4.0.0") == true)
    }
}
