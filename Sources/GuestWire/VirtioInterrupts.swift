/// The interrupts a guest took for one virtio-blk disk's request queues, from
/// the guest's `/proc/interrupts`: how many completion notifications each
/// write cost the guest. Under TCG an interrupt is tens of microseconds of the
/// one vCPU, so a driver that is woken once per write pays for it in IOPS
/// (`bench calibrate` prints them per write, per driver and disk). Pure, so
/// host tests pin the parse the guest runs.
public enum VirtioInterrupts {
    /// The sum of the counts on the lines that belong to `device` (the virtio
    /// device's name, `virtio3`): its request queues' MSI-X vectors
    /// (`virtio3-req.0`, …), or the device's own line when it has a single
    /// (INTx) interrupt. The config vector (`virtio3-config`) is left out: it
    /// fires on configuration changes, not on I/O. Nil when no line names the
    /// device.
    ///
    /// A line is `IRQ: COUNT [COUNT …] CHIP [HWIRQ] [TYPE] NAME[, NAME…]`;
    /// the counts are the per-CPU columns (one per CPU in the header).
    public static func count(procInterrupts text: String, device: String) -> UInt64? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let header = lines.first else { return nil }
        let cpus = header.split(separator: " ").filter { $0.hasPrefix("CPU") }.count
        guard cpus > 0 else { return nil }
        let queuePrefix = device + "-req"
        var total: UInt64 = 0
        var found = false
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 1 + cpus, fields[0].hasSuffix(":") else { continue }
            let names = fields.dropFirst(1 + cpus).joined(separator: " ")
                .split(separator: ",").map { $0.split(separator: " ").last.map(String.init) ?? "" }
            guard names.contains(where: { $0 == device || $0.hasPrefix(queuePrefix) }) else { continue }
            for column in fields[1...cpus] {
                guard let n = UInt64(column) else { return nil }
                total &+= n
            }
            found = true
        }
        return found ? total : nil
    }

    /// The virtio device behind a block device, from the target of
    /// `/sys/block/DEV/device` (`../../../virtio3` -> `virtio3`).
    public static func device(fromSysfsLink target: String) -> String? {
        guard let last = target.split(separator: "/").last, last.hasPrefix("virtio"), last.count > 6 else { return nil }
        return String(last)
    }
}
