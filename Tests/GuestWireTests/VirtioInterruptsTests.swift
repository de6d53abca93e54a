import GuestWire
import Testing

/// The guest's `/proc/interrupts` parse: a disk's request-queue vectors
/// count, its config vector and every other device do not.
@Suite struct VirtioInterruptsTests {
    /// As Debian's 6.1 cloud kernel prints it in the project's guest (one
    /// CPU, virtio-pci with MSI-X, six disks).
    static let oneCPU = """
                   CPU0       
          0:        112   IO-APIC   2-edge      timer
          4:         88   IO-APIC   4-edge      ttyS0
         24:          0  PCI-MSIX-0000:00:02.0   0-edge      virtio0-config
         25:      41230  PCI-MSIX-0000:00:02.0   1-edge      virtio0-req.0
         26:          0  PCI-MSIX-0000:00:03.0   0-edge      virtio1-config
         27:       7311  PCI-MSIX-0000:00:03.0   1-edge      virtio1-req.0
         28:          0  PCI-MSIX-0000:00:0b.0   0-edge      virtio10-config
         29:        999  PCI-MSIX-0000:00:0b.0   1-edge      virtio10-req.0
        NMI:          0   Non-maskable interrupts
        LOC:       5120   Local timer interrupts
        ERR:          0
        """

    @Test func countsOnlyTheDisksRequestQueues() {
        #expect(VirtioInterrupts.count(procInterrupts: Self.oneCPU, device: "virtio0") == 41230)
        #expect(VirtioInterrupts.count(procInterrupts: Self.oneCPU, device: "virtio1") == 7311)
        // virtio1 is not a prefix match for virtio10.
        #expect(VirtioInterrupts.count(procInterrupts: Self.oneCPU, device: "virtio10") == 999)
    }

    @Test func sumsEveryCPUAndEveryQueue() {
        let text = """
                       CPU0       CPU1
              25:        10         5  PCI-MSIX-0000:00:02.0   1-edge      virtio0-req.0
              26:       100        50  PCI-MSIX-0000:00:02.0   2-edge      virtio0-req.1
            """
        #expect(VirtioInterrupts.count(procInterrupts: text, device: "virtio0") == 165)
    }

    @Test func aSharedLegacyLineCounts() {
        let text = """
                       CPU0
              11:       321   IO-APIC  11-fasteoi   virtio2, virtio3
            """
        #expect(VirtioInterrupts.count(procInterrupts: text, device: "virtio3") == 321)
        #expect(VirtioInterrupts.count(procInterrupts: text, device: "virtio2") == 321)
    }

    @Test func anAbsentDeviceIsNil() {
        #expect(VirtioInterrupts.count(procInterrupts: Self.oneCPU, device: "virtio7") == nil)
        #expect(VirtioInterrupts.count(procInterrupts: "", device: "virtio0") == nil)
    }

    @Test func theDeviceComesFromTheSysfsLink() {
        #expect(VirtioInterrupts.device(fromSysfsLink: "../../../virtio3") == "virtio3")
        #expect(VirtioInterrupts.device(fromSysfsLink: "../../../0000:00:04.0") == nil)
        #expect(VirtioInterrupts.device(fromSysfsLink: "") == nil)
    }
}
