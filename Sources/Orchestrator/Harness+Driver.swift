import GuestWire

extension Harness {
    /// This harness with its runs booting the initramfs `driver` needs. Each
    /// driver has its own initramfs (the fio variant carries fio and its
    /// libraries), so a caller running fio cells takes a harness from here;
    /// native returns `self` unchanged. Work directory and accelerator are
    /// shared.
    ///
    /// The initramfs's own kernel parameters are appended to
    /// `context.extraKernelParameters`: set user parameters before calling
    /// this, or append to them afterwards.
    public func using(driver: GuestDriver) async throws(OrchestratorError) -> Harness {
        guard driver != .native else { return self }
        var copy = self
        let initramfs = try await Initramfs.prepare(driver: driver, kernel: context.kernel, guestBinary: Harness.guestBinaryPath())
        copy.context.initramfs = initramfs
        copy.context.extraKernelParameters += initramfs.kernelParameters.filter { !context.extraKernelParameters.contains($0) }
        return copy
    }
}
