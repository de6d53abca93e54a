// swift-tools-version: 6.1
import PackageDescription

/// The guest driver runs as a static binary inside a minimal initramfs, and its
/// per-I/O CPU cost under TCG caps what can be measured: it is always built
/// optimised and statically linked, whatever the host build configuration.
let guestFlags: [String] = ["-O", "-static-executable"]

let package = Package(
    name: "qcow2-cache-bench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bench", targets: ["bench"]),
        .executable(name: "bench-guest", targets: ["bench-guest"]),
    ],
    // Exact versions: the nightly gate compares nights, so the build must not
    // float between them. Package.resolved cannot carry the pin: it records
    // commit ids, and the package copies on the project's machines have other
    // ids than GitHub's, so one file cannot serve both. `Package.versions`
    // lists the whole resolved graph (transitive packages too) and
    // scripts/test fails when resolution differs from it.
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system.git", exact: "1.8.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", exact: "1.0.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", exact: "0.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", exact: "0.2.0"),
    ],
    targets: [
        // Pure core: no I/O.
        .target(name: "Qcow2Geometry"),
        .target(name: "GuestWire"),
        .target(
            name: "BenchSpec",
            dependencies: ["Qcow2Geometry", "GuestWire", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        // Records, provenance, the append-only results log and shard merge.
        .target(name: "BenchResults", dependencies: ["Qcow2Geometry", "GuestWire", "BenchSpec"]),
        .target(name: "Reporting", dependencies: ["Qcow2Geometry", "GuestWire", "BenchSpec", "BenchResults"]),

        // Guest side.
        .systemLibrary(name: "CLibAIO", path: "Sources/CLibAIO"),
        .executableTarget(
            name: "bench-guest",
            dependencies: [
                "GuestWire", "CLibAIO",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/BenchGuest",
            swiftSettings: [.unsafeFlags(guestFlags)],
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "-s"])]
        ),

        // Host edges.
        .target(
            name: "Orchestrator",
            dependencies: [
                "Qcow2Geometry", "GuestWire", "BenchSpec", "BenchResults",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Between two slots of a shared guest the host parses QEMU's
            // trace of the last window (~100k lines); unoptimised that took
            // 1.1-1.4 s per traced slot, in which the guest sits idle.
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
        .executableTarget(
            name: "bench",
            dependencies: [
                "Qcow2Geometry", "GuestWire", "BenchSpec", "BenchResults", "Reporting", "Orchestrator", "bench-guest",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/BenchCLI"
        ),

        .testTarget(name: "Qcow2GeometryTests", dependencies: ["Qcow2Geometry"]),
        .testTarget(name: "GuestWireTests", dependencies: ["GuestWire"], exclude: ["Fixtures"]),
        .testTarget(name: "BenchSpecTests", dependencies: ["BenchSpec"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "BenchResults"], exclude: ["Snapshots"]),
        .testTarget(name: "OrchestratorTests", dependencies: ["Orchestrator", "BenchResults"]),
        .testTarget(name: "BenchCLITests", dependencies: ["Orchestrator", "BenchSpec", "BenchResults", "Reporting", "bench"]),
    ],
    swiftLanguageModes: [.v6]
)
