import BenchSpec
import GuestWire
import Qcow2Geometry
import Testing

@testable import Orchestrator

@Suite("Paired schedule")
struct PairedScheduleTests {
    static let disk = ImageGeometry(diskSize: .gib(16), clusterSize: .kib(64))

    static func qcow2(_ l2: Setting<ByteSize>, state: ImageState = .preallocated, phases: [WorkloadPhase] = []) -> Cell {
        var w = Workload()
        w.phases = phases
        return Cell(kind: .qcow2, state: state, geometry: disk, cache: CacheConfig(l2CacheSize: l2), workload: w)
    }

    @Test func groupsShareableCellsWithTheirNullControl() {
        let a = Self.qcow2(.value(.kib(128)))
        let b = Self.qcow2(.default)
        let fresh = Self.qcow2(.default, state: .fresh)
        let snapshot = Self.qcow2(.default, state: .snapshot)
        let idle = Self.qcow2(.default, phases: [.write(millis: 1000), .idle(millis: 1000), .write(millis: 1000)])
        let null = Cell(kind: .null, geometry: ImageGeometry(diskSize: .gib(16)))
        let (groups, perRun) = GuestGroup.plan([a, b, fresh, snapshot, idle, null], requested: nil)
        #expect(groups.count == 1)
        #expect(groups[0].cells == [a, b, fresh, null])
        #expect(perRun == [snapshot, idle])
        #expect(Isolation.needsImagePerSlot(fresh) && !Isolation.needsImagePerSlot(a))
        #expect(Isolation.sharingObstacle(snapshot) == "a snapshot image is fully allocated: a copy per slot would not fit")
        #expect(Isolation.sharingObstacle(idle) == "idle phases need the whole guest")
        var never = Self.qcow2(.default)
        never.cache.cacheCleanInterval = .value(0)
        var three = never
        three.cache.cacheCleanInterval = .value(3)
        #expect(Isolation.sharingObstacle(never) == nil, "interval 0 never cleans")
        #expect(Isolation.sharingObstacle(three) == "cache_clean_interval acts between slots")
        var fio = Self.qcow2(.default)
        fio.workload.driver = .fio
        #expect(Isolation.sharingObstacle(fio) == nil, "fio runs in slots too (drv=fio)")

        let (none, all) = GuestGroup.plan([a, b, null], requested: .guestPerRun)
        #expect(none.isEmpty)
        #expect(all == [a, b, null])
    }

    /// The order a seed gives is pinned: it must not change with the toolchain.
    @Test func blockOrderIsAFixedFunctionOfTheSeed() {
        let cells = (0..<6).map { Self.qcow2(.value(.kib(UInt64(64 << $0)))) }
        let g = GuestGroup(id: 1, cells: cells)
        let orders = (1...3).map { g.order(block: $0, seed: 1) }
        // Computed independently (a few lines of Python with the same SplitMix64).
        #expect(orders == [[5, 0, 1, 2, 3, 4], [4, 2, 1, 5, 0, 3], [1, 4, 5, 0, 3, 2]])
        for o in orders { #expect(o.sorted() == Array(0..<6)) }
        #expect(g.order(block: 1, seed: 2) != orders[0])
        #expect(g.slotSeed(disk: 0, block: 1, seed: 1) != g.slotSeed(disk: 0, block: 2, seed: 1))
    }

    @Test func budgetFromTheMatrix() {
        var m = Matrix(name: "x", repetitions: 4)
        #expect(BlockBudget.from(m).minBlocks == 4)
        #expect(BlockBudget.from(m).maxBlocks == 4)
        m.pairing = Pairing(targetCI: 0.03, minBlocks: 6, maxBlocks: 50)
        let b = BlockBudget.from(m)
        #expect((b.minBlocks, b.maxBlocks, b.targetCI) == (6, 50, 0.03))
        #expect((b.firstBlock, b.blockStride) == (1, 1))
        // Shard 2 of 3 takes blocks 2, 5, 8, …: disjoint from the other shards'.
        let sharded = BlockBudget.from(m, shard: try? Shard(parsing: "2/3"))
        #expect((sharded.firstBlock, sharded.blockStride) == (2, 3))
    }

    @Test func sharedGuestArgv() {
        let cmd = QemuCommand(
            accel: .tcg, kernel: "/k", initrd: "/i", kernelParameters: ["qcb.ctl=ttyS1:2"],
            disks: [.null(size: .gib(1)), .null(size: .gib(2))], consolePath: "/w/console.log", controlSocket: "/w/c.sock")
        let argv = cmd.argv
        #expect(argv.contains("socket,id=control0,path=/w/c.sock,server=on,wait=off"))
        #expect(argv.contains("driver=null-co,node-name=disk1,size=2147483648"))
        #expect(argv.contains("virtio-blk-pci,drive=disk1,iothread=iothread0,serial=d1"))
        #expect(argv.contains("qcb,debug-threads=on"))
    }
}
