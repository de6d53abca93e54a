import Foundation
import Qcow2Geometry
import Testing

@testable import Orchestrator

/// The cache rules the harness checks before starting anything must be the
/// ones QEMU enforces: `qemu-img info --image-opts` opens a real image with
/// the options (QEMU's `read_cache_sizes` runs on open), and for every
/// combination in a grid it must refuse exactly when the harness does for a
/// rule QEMU has. The harness also refuses values QEMU would silently raise
/// to a minimum; QEMU accepts those.
@Suite struct QemuAgreementTests {
    static let sizes: [Setting<ByteSize>] = [.default, .value(.kib(256)), .value(.mib(1)), .value(.mib(4))]

    @Test func cacheOptionRulesMatchQemuImg() async throws {
        let dir = NSTemporaryDirectory() + "qcb-agreement-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let image = dir + "/disk.qcow2"
        // 1 GiB at 64K clusters: full L2 coverage needs 128K, so 256K and
        // more are above it, and the refcount minimum is 256K.
        let geometry = ImageGeometry(diskSize: .gib(1), clusterSize: .kib(64))
        let created = try await ToolRunner.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "1G"])
        #expect(created.succeeded, "\(created.stderr)")

        var compared = 0
        for combined in Self.sizes {
            for l2 in Self.sizes {
                for refcount in Self.sizes {
                    for entry in [Setting<ByteSize>.default, .value(ByteSize(3000))] {
                        let config = CacheConfig(
                            l2CacheSize: l2, l2CacheEntrySize: entry, refcountCacheSize: refcount, cacheSize: combined)
                        var ours: InvalidValue?
                        do throws(InvalidValue) { try QemuCacheModel.validate(config, geometry: geometry) } catch { ours = error }
                        let options = (["driver=qcow2", "file.driver=file", "file.filename=\(image)"]
                            + config.blockdevOptions.map { "\($0.key)=\($0.value)" }).joined(separator: ",")
                        let qemu = try await ToolRunner.run(["qemu-img", "info", "--image-opts", options])
                        let silentRaise = ours?.rule.contains("QEMU would silently raise it") == true
                        if qemu.succeeded {
                            #expect(ours == nil || silentRaise, "harness refuses what QEMU accepts: \(options): \(ours?.description ?? "")")
                        } else {
                            #expect(ours != nil && !silentRaise, "QEMU refuses what the harness accepts: \(options): \(qemu.stderr)")
                        }
                        compared += 1
                    }
                }
            }
        }
        #expect(compared == 128)
    }
}
