/// What the guest driver measured in one run. The guest prints it as one JSON
/// line behind `ConsoleProtocol.resultMarker`; the host decodes the same type
/// and embeds it in its run record.
public struct GuestResult: Hashable, Sendable, Codable {
    /// Which workload generator produced this (`native` libaio loop, `fio`).
    public var driver: String
    /// I/Os completed inside the measured window.
    public var ops: UInt64
    /// Length of the measured window, seconds (monotonic clock).
    public var seconds: Double
    public var iops: Double
    public var mibPerSecond: Double
    public var latency: Latency
    /// I/Os completed in each whole second of the measured window.
    public var perSecondOps: [UInt64]
    /// I/Os that completed with an error (any phase), and the first error.
    public var ioErrors: UInt64
    public var firstError: String?
    /// Guest uptime when the first I/O was submitted, ms: boot cost under
    /// the chosen accelerator.
    public var bootToFirstIOMillis: UInt64
    /// Size of the device as the guest sees it, bytes.
    public var deviceBytes: UInt64
    /// The spec the guest ran, echoed back so a record is self-describing.
    public var spec: WorkloadSpec
    /// One entry per phase for multi-phase workloads (nil otherwise); the
    /// top-level figures then sum the write phases.
    public var phases: [PhaseResult]? = nil

    public init(
        driver: String, ops: UInt64, seconds: Double, iops: Double, mibPerSecond: Double, latency: Latency,
        perSecondOps: [UInt64], ioErrors: UInt64, firstError: String?, bootToFirstIOMillis: UInt64,
        deviceBytes: UInt64, spec: WorkloadSpec
    ) {
        self.driver = driver
        self.ops = ops
        self.seconds = seconds
        self.iops = iops
        self.mibPerSecond = mibPerSecond
        self.latency = latency
        self.perSecondOps = perSecondOps
        self.ioErrors = ioErrors
        self.firstError = firstError
        self.bootToFirstIOMillis = bootToFirstIOMillis
        self.deviceBytes = deviceBytes
        self.spec = spec
    }

    /// Completion latency of measured I/Os, microseconds (submit to reap).
    public struct Latency: Hashable, Sendable, Codable {
        public var meanUs: Double
        public var p50Us: Double
        public var p99Us: Double
        public var p999Us: Double
        public var maxUs: Double

        public init(meanUs: Double, p50Us: Double, p99Us: Double, p999Us: Double, maxUs: Double) {
            self.meanUs = meanUs
            self.p50Us = p50Us
            self.p99Us = p99Us
            self.p999Us = p999Us
            self.maxUs = maxUs
        }
    }
}

/// Line markers on the guest's serial console. Everything else on the console
/// (kernel messages) is noise to the host.
public enum ConsoleProtocol {
    /// The driver is running (printed before the first I/O): boot succeeded.
    public static let readyMarker = "@@QCB-READY@@"
    /// Followed by one space and the `GuestResult` JSON.
    public static let resultMarker = "@@QCB-RESULT@@"
    /// Followed by one space and a one-line reason the driver gave up.
    public static let errorMarker = "@@QCB-ERROR@@"
    /// With `dumpParameter` on the kernel command line, a fio run copies
    /// fio's raw JSON report and IOPS log to stderr (the console) between
    /// these lines, for debugging and for capturing test fixtures (run the
    /// record's QEMU command line by hand with the console on stdio); the
    /// host ignores them.
    public static let fioDumpBegin = "@@QCB-FIO-BEGIN@@"
    public static let fioDumpEnd = "@@QCB-FIO-END@@"
    public static let dumpParameter = "qcb.dump"
}
