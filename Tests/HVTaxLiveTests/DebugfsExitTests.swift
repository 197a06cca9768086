import Foundation
import HVTaxHost
import HVTaxMetrics
import HVTaxModel
import Testing

/// KVM debugfs as a root-run host has it (not readable on this machine: EPERM): the recorded
/// libvirt host with a `/sys/kernel/debug/kvm` folder added, its per-VM `PID-FD` counters moving by
/// known amounts between the two samples.
@Suite("exit counts from KVM debugfs on a recorded host tree")
struct DebugfsExitTests {
    /// Per VM pid and file: the counter at t0 and at t1.
    static let counters: [Int32: [String: (UInt64, UInt64)]] = [
        4100: ["exits": (10_000, 15_000), "io_exits": (2_000, 3_200), "mmio_exits": (500, 900), "halt_exits": (3_000, 4_000),
               "hypercalls": (7, 7), "insn_emulation": (40, 90)],
        4200: ["exits": (1_000, 1_250), "io_exits": (100, 150), "mmio_exits": (0, 0), "halt_exits": (200, 400),
               "hypercalls": (0, 0), "insn_emulation": (0, 0)],
    ]

    /// A copy of the fixture's two samples with the debugfs folder of each.
    static func trees() throws -> (URL, [String]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-debugfs-\(UUID().uuidString)")
        var roots: [String] = []
        for step in 0...1 {
            let root = dir.appendingPathComponent("t\(step)").path
            try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: LiveFixtures.root("live-libvirt-v2", step), toPath: root)
            let kvm = root + "/sys/kernel/debug/kvm"
            // Top level: the totals over all VMs, and a file that is no exit counter.
            for name in ["exits", "io_exits", "mmio_exits", "halt_exits", "hypercalls", "insn_emulation", "pf_fixed"] {
                let total = counters.values.reduce(UInt64(0)) { $0 + (step == 0 ? $1[name]?.0 ?? 0 : $1[name]?.1 ?? 0) }
                try FileManager.default.createDirectory(atPath: kvm, withIntermediateDirectories: true)
                try "\(total)\n".write(toFile: kvm + "/" + name, atomically: false, encoding: .utf8)
            }
            for (pid, files) in counters {
                let folder = kvm + "/\(pid)-1\(pid % 100)"
                try FileManager.default.createDirectory(atPath: folder + "/vcpu0", withIntermediateDirectories: true)
                for (name, values) in files {
                    try "\(step == 0 ? values.0 : values.1)\n".write(toFile: folder + "/" + name, atomically: false, encoding: .utf8)
                }
            }
            roots.append(root)
        }
        return (dir, roots)
    }

    @Test("per-VM exit rate and rates by reason, from each VM's own PID-FD folder; the source says which")
    func ratesByReason() throws {
        let (dir, roots) = try Self.trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        let samplers = roots.map { LiveSampler(fs: HostFileSystem(root: $0), ticksPerSecond: 100) }
        #expect(samplers[1].exitRateSource.kind == .debugfs)
        #expect(samplers[1].exitRateSource.detail.contains("by reason: io_exits, mmio_exits, halt_exits, hypercalls, insn_emulation"))
        #expect(!samplers[1].exitRateSource.detail.contains("pf_fixed"))
        var analyzer = SnapshotAnalyzer(ticksPerSecond: 100, root: "fixture", exitRateSource: samplers[1].exitRateSource,
                                        backend: samplers[1].backend)
        var snapshot: HostSnapshot?
        for (step, sampler) in samplers.enumerated() {
            var sample = try sampler.sample()
            sample.monotonicNs = UInt64(step + 1) * 1_000_000_000
            snapshot = analyzer.add(sample, vms: sampler.vms, affinity: sampler.affinity)
        }
        let s = try #require(snapshot)
        #expect(s.exitRates.kind == .debugfs)
        for (pid, files) in Self.counters {
            let vm = try #require(s.vms.first { $0.pid == pid })
            let total = try #require(files["exits"])
            #expect(vm.exitsPerSecond == Double(total.1 - total.0), "\(vm.name)")
            let rates = Dictionary(uniqueKeysWithValues: vm.exitReasons.map { ($0.reason, $0.perSecond) })
            #expect(rates["exits"] == nil, "the total is not a reason")
            for (name, values) in files where name != "exits" {
                #expect(rates[name] == Double(values.1 - values.0), "\(vm.name) \(name)")
            }
            #expect(vm.exitReasons.map(\.count) == vm.exitReasons.map(\.count).sorted(by: >), "highest first")
        }
        // The metric keeps only the total: the kinds overlap, so summing them would count wrongly.
        var metrics = LiveMetrics()
        let exits = try #require(metrics.add(s).first { $0.descriptor.name == "hvtax_vm_exits" })
        #expect(Set(exits.samples.map { $0.labelValues[1] }) == ["all"])
        #expect(exits.samples.compactMap(\.value.number).sorted() == [250, 5_000])
    }

    @Test("a VM whose debugfs folder appears after it was first seen is counted from then on")
    func folderAppearsLater() throws {
        let (dir, roots) = try Self.trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = roots[0]
        let folder = root + "/sys/kernel/debug/kvm/4200-10"
        let parked = dir.appendingPathComponent("parked").path
        try FileManager.default.moveItem(atPath: folder, toPath: parked)
        let sampler = LiveSampler(fs: HostFileSystem(root: root), ticksPerSecond: 100)
        let first = try sampler.sample()
        #expect(first.debugfsExits[4100] == 10_000 && first.debugfsExits[4200] == nil)
        try FileManager.default.moveItem(atPath: parked, toPath: folder)
        let second = try sampler.sample()
        #expect(second.debugfsExits[4200] == 1_000)
        #expect(second.exitCounts[4200]?["halt_exits"] == 200)
    }

    @Test("--exit-rates confines the source: debugfs alone, tracepoints alone (none on a tree, saying why), or off")
    func choiceConfinesTheSource() throws {
        let (dir, roots) = try Self.trees()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fs = HostFileSystem(root: roots[1])
        for choice in [ExitRateChoice.auto, .debugfs] {
            let sampler = LiveSampler(fs: fs, ticksPerSecond: 100, exitRates: choice)
            #expect(sampler.exitRateSource.kind == .debugfs, "\(choice)")
            #expect(try sampler.sample().debugfsExits[4100] == 15_000, "\(choice)")
        }
        let tracepoints = LiveSampler(fs: fs, ticksPerSecond: 100, exitRates: .tracepoints)
        #expect(tracepoints.exitRateSource.kind == .none)
        #expect(tracepoints.exitRateSource.detail.contains("debugfs not tried (exit rates asked from tracepoints only)"))
        #expect(tracepoints.exitRateSource.detail.contains("kvm tracepoint counters only on the live host"))
        #expect(try tracepoints.sample().debugfsExits.isEmpty)
        let off = LiveSampler(fs: fs, ticksPerSecond: 100, exitRates: .off)
        #expect(off.exitRateSource.kind == .none)
        #expect(off.exitRateSource.detail.hasPrefix("off as asked"))
        let sample = try off.sample()
        #expect(sample.debugfsExits.isEmpty && sample.exitCounts.isEmpty)
        #expect(sample.threads.count == (try LiveSampler(fs: fs, ticksPerSecond: 100).sample()).threads.count,
                "only the exit rates are left out")
    }
}
