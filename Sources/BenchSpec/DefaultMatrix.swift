/// The default matrix, embedded so `bench --matrix` works from any directory
/// and from an installed binary. Must equal `Benchmarks/default.toml` byte for
/// byte (a test checks); edit that file, then paste it here.
public enum DefaultMatrix {
    /// The exact text of `Benchmarks/default.toml`.
    public static let toml: String = #"""
# The default matrix: what `swift run bench --matrix` runs when no file is
# given. It is embedded in the binary: Sources/BenchSpec/DefaultMatrix.swift
# holds this exact text, and a test fails when the two differ.
#
# Question it answers: on this host and QEMU, how do 4K random writes to a
# metadata-preallocated 16 GiB qcow2 image scale with the L2 cache size, from
# a small fraction of the disk mapped to all of it, against the null-co
# ceiling?
#
# 16G at 64K clusters needs 16G / 64K * 8 = 2M of L2 tables for full coverage:
#   128K -> 6.25%   512K -> 25%   1M -> 50%   2M -> 100%
#   default -> QEMU's own choice: full coverage, capped at 32M (same as 2M).
# l2_cache_entry_size stays "default": QEMU uses 4K entries below full
# coverage and the cluster size (64K) at it, so the 2M and default cells also
# change the entry size. Reports show the effective entry size per cell.
#
# How it runs: the six cells share one guest, one disk each (attached at
# boot, so each keeps its cache warm between its slots). A block runs every
# cell once in a shuffled order: a warm-up until IOPS are steady (at most
# `ramp`), then `runtime` measured. One-second windows: host noise here
# drifts over tens of seconds, so slots close in time pair better, and a
# 1 s window's per-block ratio spread was no wider than a 4 s one's
# (README, "How long a slot is"). Blocks are added until every cell's
# paired IOPS ratio (against 2M, the largest cache) has a 95% CI within
# +-target_ci, max_blocks are run, or `budget` is spent; the report lists
# cells that missed the target. 2M and default are the same cache: their
# ratio is the A/A check of what the harness resolves.
#
# Budget: at most 6 minutes on a 2-core machine under TCG, image
# preparation and boot included (5 minutes of blocks plus setup).
# raw is off: random writes into a sparse 16G raw file mostly measure the host
# file system's block allocation, not the I/O path qcow2 is compared with.

name = "default"
description = "L2 cache coverage sweep: 16G preallocated qcow2, 64K clusters, 4K random writes at QD32"

[workload]
block_size = "4K"
iodepth = 32
ramp = "1s"
runtime = "1s"
repeat = 6
target_ci = "5%"
min_blocks = 6
max_blocks = 60
budget = "5m"
span = "100%"
seed = 1

[image]
disk_size = ["16G"]
cluster_size = ["64K"]
state = ["preallocated"]
refcount_bits = [16]

[cache]
l2_cache_size = ["128K", "512K", "1M", "2M", "default"]
l2_cache_entry_size = ["default"]
refcount_cache_size = ["default"]
cache_clean_interval = ["default"]
cache_size = ["default"]

[host]
cache = ["none"]
aio = ["native"]

[reference]
null = true
raw = false

"""#
}

extension Matrix {
    /// The matrix `bench --matrix` runs without a file. Its text is a constant
    /// that a test parses, so failing here is a build defect, not bad input.
    public static var embeddedDefault: Matrix {
        do {
            return try parse(toml: DefaultMatrix.toml, source: "<embedded default>")
        } catch {
            fatalError("the embedded default matrix is invalid: \(error)")
        }
    }
}
