import HVTaxHost
import HVTaxModel
import HVTaxRender
import Testing

/// Host trees written by scripts/gen-proc-tree.py: each fixture has t0 and t1, the same host one
/// second apart. Discovery is asserted on t0; deltas on the pair, with the sample clocks set exactly
/// one second apart so every rate is the fixture's delta.
enum LiveFixtures {
    static func root(_ name: String, _ step: Int) -> String {
        let here = #filePath
        let dir = here[..<here.lastIndex(of: "/")!]
        return "\(dir)/Fixtures/\(name)/t\(step)"
    }

    /// The snapshot of the t0 -> t1 interval, and the VMs discovered on t1.
    static func interval(_ name: String, thresholds: Thresholds = .standard) throws -> (HostSnapshot, [DiscoveredVM]) {
        let before = LiveSampler(fs: HostFileSystem(root: root(name, 0)), ticksPerSecond: 100)
        let after = LiveSampler(fs: HostFileSystem(root: root(name, 1)), ticksPerSecond: 100)
        var s0 = try before.sample()
        var s1 = try after.sample()
        s0.monotonicNs = 1_000_000_000
        s1.monotonicNs = 2_000_000_000
        var analyzer = SnapshotAnalyzer(
            thresholds: thresholds, ticksPerSecond: 100, root: "fixture", exitRateSource: after.exitRateSource,
            backend: after.backend)
        #expect(analyzer.add(s0, vms: before.vms, affinity: before.affinity) == nil)
        let ended = analyzer.add(s1, vms: after.vms, affinity: after.affinity)
        let snapshot = try #require(ended)
        return (snapshot, after.vms)
    }
}

@Suite("discovery on recorded host trees")
struct DiscoveryFixtureTests {
    @Test("libvirt host, cgroup v2: names, UUIDs, scopes, thread roles, vhost threads old and new")
    func libvirtV2() throws {
        let vms = try VMDiscovery(fs: HostFileSystem(root: LiveFixtures.root("live-libvirt-v2", 0))).discover()
        #expect(vms.map(\.pid) == [4100, 4200], "sshd (900) and systemd (1) are not VMs")
        let web = vms[0]
        #expect(web.name == "web01")
        #expect(web.kind == .libvirt)
        #expect(web.uuid == "6f1e2c8a-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
        #expect(web.cgroup == CgroupLocation(
            version: .v2, path: "/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope",
            directory: "/sys/fs/cgroup/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope"))
        #expect(web.threads.map(\.tid) == [4104, 4105, 4100, 4101, 4103, 4106])
        #expect(web.threads.map(\.role) == [.vcpu, .vcpu, .emulator, .emulator, .io, .vhost])
        #expect(web.vcpuThreads.map(\.vcpu) == [0, 1])
        let db = vms[1]
        #expect(db.name == "db,02", "QEMU's ,, is a literal comma")
        #expect(db.threads.map(\.tid) == [4210, 4200, 4250])
        #expect(db.threads.last == DiscoveredThread(tid: 4250, pid: 4250, name: "vhost-4200", role: .vhost, vcpu: nil))
    }

    @Test("cgroup v1 host: Firecracker, Cloud Hypervisor, crosvm and hvtax workload; hvtax snapshot is not a VM")
    func firecrackerV1() throws {
        let vms = try VMDiscovery(fs: HostFileSystem(root: LiveFixtures.root("live-firecracker-v1", 0))).discover()
        #expect(vms.map(\.name) == ["vm-a", "cloud-hypervisor-7100", "crosvm-7200", "calib"])
        #expect(vms.map(\.kind) == [.firecracker, .cloudHypervisor, .crosvm, .hvtaxWorkload])
        #expect(vms[0].cgroup == CgroupLocation(
            version: .v1, path: "/firecracker/vm-a", directory: "/sys/fs/cgroup/cpu,cpuacct/firecracker/vm-a"))
        #expect(vms[0].threads.map(\.name) == ["fc_vcpu 0", "fc_vcpu 1", "firecracker", "fc_api"])
        #expect(vms[1].cgroup == nil, "a VMM in the root cgroup has no cgroup of its own")
        #expect(vms[1].threads.map(\.role) == [.vcpu, .vcpu, .emulator, .io, .emulator])
        #expect(vms[2].vcpuThreads.map(\.vcpu) == [0])
        #expect(vms[3].vcpuThreads.map(\.name) == ["CPU 0/KVM"])
    }

    @Test(
        "thread names -> roles",
        arguments: [
            ("CPU 0/KVM", ThreadRole.vcpu, 0), ("CPU 17/KVM", .vcpu, 17), ("fc_vcpu 3", .vcpu, 3), ("vcpu12", .vcpu, 12),
            ("crosvm_vcpu2", .vcpu, 2), ("IO iothread0", .io, nil), ("IO mon_iothread", .io, nil), ("worker", .io, nil),
            ("_disk0_q0", .io, nil), ("vhost-4100", .vhost, nil), ("qemu-system-x86", .emulator, nil),
            ("call_rcu", .emulator, nil), ("fc_api", .emulator, nil), ("CPU x/KVM", .emulator, nil),
        ] as [(String, ThreadRole, Int?)])
    func roles(name: String, role: ThreadRole, vcpu: Int?) {
        let found = VMDiscovery.role(ofThread: name)
        #expect(found.0 == role)
        #expect(found.1 == vcpu)
    }

    @Test(
        "cgroup of a VM from /proc/PID/cgroup",
        arguments: [
            ("0::/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope/libvirt/emulator\n", "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0",
             "v2 /machine.slice/machine-qemu\\x2d1\\x2dweb01.scope"),
            ("3:cpu,cpuacct:/machine/web01.libvirt-qemu/emulator\n0::/\n",
             "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0", "v1 /machine/web01.libvirt-qemu"),
            // Hybrid (this machine): v1 cpuacct is where the CPU time is.
            ("2:cpuacct:/vms/a\n0::/vms/a\n",
             "cgroup /sys/fs/cgroup/cpuacct cgroup rw,cpuacct 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0", "v1 /vms/a"),
            ("2:cpuacct:/\n0::/\n", "cgroup /sys/fs/cgroup/cpuacct cgroup rw,cpuacct 0 0", "none"),
            ("0::/machine.slice/x.scope/libvirt/vcpu0\n", "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0", "v2 /machine.slice/x.scope"),
        ])
    func cgroups(procCgroup: String, mounts: String, expected: String) {
        let location = VMDiscovery.cgroupLocation(procCgroup, mounts: MountEntry.parseTable(mounts))
        #expect(location.map { "\($0.version.rawValue) \($0.path)" } ?? "none" == expected)
    }

    @Test("command lines -> kind and name", arguments: [
        (["/usr/bin/qemu-system-x86_64", "-name", "guest=t,debug-threads=on"], "qemu t"),
        (["qemu-kvm", "-name", "plain"], "qemu plain"),
        (["/usr/bin/firecracker", "--api-sock", "/x"], "firecracker firecracker-9"),
        (["/usr/bin/hvtax", "workload", "guest=w1"], "hvtax-workload w1"),
        (["/usr/bin/hvtax", "top"], "none"),
        // An installed copy under another name is still hvtax; a file named workload is not a workload.
        (["/opt/hvtax-1.2/bin/hvtax-1.2", "workload", "--vcpus", "2", "-name", "guest=w2,debug-threads=on"], "hvtax-workload w2"),
        (["/usr/bin/hvtax", "report", "workload"], "none"),
        (["/usr/bin/python3", "qemu-system-x86_64"], "none"),
    ])
    func classify(arguments: [String], expected: String) {
        let comm = String(arguments[0].split(separator: "/").last!.prefix(15))
        let found = VMDiscovery.classify(pid: 9, comm: comm, arguments: arguments)
        #expect(found.map { "\($0.kind.rawValue) \($0.name)" } ?? "none" == expected)
    }
}

@Suite("deltas on recorded host trees")
struct DeltaFixtureTests {
    @Test("libvirt v2: per-vCPU and per-VM figures are exactly the fixture's deltas")
    func libvirt() throws {
        let (s, _) = try LiveFixtures.interval("live-libvirt-v2")
        #expect(s.intervalNs == 1_000_000_000)
        let web = try #require(s.vms.first { $0.name == "web01" })
        let v0 = try #require(web.vcpus.first)
        #expect(v0.vcpu == 0 && v0.tid == 4104)
        #expect(v0.onCPUNs == 600_000_000)
        #expect(v0.runDelayNs == 80_000_000)
        #expect(v0.steal == RatedRatio(0.08, against: Thresholds.standard.steal))
        #expect(v0.steal.level == .warning)
        #expect(v0.userNs == 600_000_000 && v0.systemNs == 20_000_000 && v0.guestNs == 550_000_000)
        #expect(v0.voluntarySwitches == 100 && v0.involuntarySwitches == 20 && v0.migrations == 3)
        #expect(v0.lastCPU == 1)
        #expect(web.vcpus[1].onCPUNs == 200_000_000 && web.vcpus[1].migrations == 0)
        #expect(web.vcpuOnCPU == 0.8)
        #expect(web.emulator == ThreadGroupFigures(threads: 2, onCPUNs: 10_000_000, runDelayNs: 0))
        #expect(web.io == ThreadGroupFigures(threads: 1, onCPUNs: 30_000_000, runDelayNs: 0))
        #expect(web.vhost == ThreadGroupFigures(threads: 1, onCPUNs: 7_000_000, runDelayNs: 0))
        #expect(web.vmmOverhead.ratio == 47.0 / 847.0)
        #expect(web.vmmOverhead.level == .warning)
        #expect(web.steal.ratio == 0.085 / 2)
        #expect(web.worstVCPUSteal == .warning)
        #expect(web.cgroup == CgroupFigures(
            version: .v2, path: "/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope", usageNs: 850_000_000,
            userNs: 800_000_000, systemNs: 50_000_000))
        #expect(web.cpus == [0, 1, 2, 3])
        let db = try #require(s.vms.first { $0.name == "db,02" })
        #expect(db.vhost == ThreadGroupFigures(threads: 1, onCPUNs: 4_000_000, runDelayNs: 0))
        #expect(db.cpus == [2, 3])
        // /proc/stat cpu0: +60 user, +20 system, +20 idle, +55 guest of 100 ticks.
        let cpu0 = try #require(s.hostCPUs.first { $0.cpu == 0 })
        #expect(cpu0 == HostCPUFigures(cpu: 0, user: 0.6, system: 0.2, idle: 0.2, iowait: 0, irq: 0, softirq: 0, steal: 0, guest: 0.55))
        #expect(s.hostCPUs.first?.cpu == nil, "the aggregate line first")
        // IRQ 36 jumps to 9000/s on CPU 1 where web01's vCPU 0 runs.
        #expect(s.interrupts.top.first?.irq == "36" && s.interrupts.top.first?.perSecond == 9000)
        #expect(s.interrupts.totalPerSecond == 10_000)
        let storm = try #require(s.interrupts.storms.first)
        #expect(storm.cause == .onVCPUCPUs && storm.cpus == [1] && storm.device == "virtio1-req.0")
        #expect(storm.detail == "IRQ 36 (virtio1-req.0) at 9000/s on CPU 1, where vCPUs of web01 run")
        #expect(s.findings.isEmpty, "guest time moves on this (svm) host")
        #expect(s.exitRates.kind == .none)
        #expect(s.exitRates.detail.hasPrefix("none available: debugfs not mounted"))
    }

    @Test("cgroup v1 without /proc/.../sched: status switches, no migrations, cpuacct in ticks, guest time missing found")
    func firecracker() throws {
        let (s, _) = try LiveFixtures.interval("live-firecracker-v1")
        let fc = try #require(s.vms.first { $0.name == "vm-a" })
        let v0 = try #require(fc.vcpus.first)
        #expect(v0.onCPUNs == 450_000_000 && v0.runDelayNs == 150_000_000)
        #expect(v0.steal.level == .critical)
        #expect(v0.involuntarySwitches == 30 && v0.voluntarySwitches == 7)
        #expect(v0.migrations == nil, "no /proc/.../sched: migrations unknown, not zero")
        #expect(fc.cgroup == CgroupFigures(version: .v1, path: "/firecracker/vm-a", usageNs: 451_000_000,
                                           userNs: 450_000_000, systemNs: 0))
        let ch = try #require(s.vms.first { $0.kind == .cloudHypervisor })
        #expect(ch.io == ThreadGroupFigures(threads: 1, onCPUNs: 5_000_000, runDelayNs: 0))
        #expect(ch.cgroup == nil)
        // hvtax workload's vCPU ran 750 ms as system time, guest 0: on a vmx host that is worth saying.
        let calib = try #require(s.findings.first { $0.vm == "calib" })
        #expect(calib.kind == .guestTimeMissing)
        #expect(calib.detail.contains("vCPU threads ran 0.750 s by schedstat; stat shows user 0.000 s, system 0.750 s, guest 0.000 s"))
        #expect(!s.findings.contains { $0.kind == .tickAccountingMissing })
    }

    @Test("renderers: JSON carries the schema, CSV its header and exact figures, text the exit-rate source")
    func renderers() throws {
        let (s, _) = try LiveFixtures.interval("live-libvirt-v2")
        let json = try SnapshotJSONRenderer().render(s)
        #expect(json.hasPrefix("{") && json.hasSuffix("}\n") && json.filter { $0 == "\n" }.count == 1)
        #expect(json.contains("\"schema\":\"hvtax.snapshot/1\""))
        let csv = SnapshotCSVRenderer().render(s)
        #expect(SnapshotCSVRenderer.header == "sequence,end_unix_ns,scope,vm,vcpu,tid,metric,value,unit\n")
        #expect(csv.contains(",vcpu,web01,0,4104,on_cpu,600000000,ns\n"))
        #expect(csv.contains(",vm,web01,,4100,cgroup_usage,850000000,ns\n"))
        #expect(csv.contains(",vcpu,\"db,02\",0,4210,on_cpu,900000000,ns\n"))
        let text = SnapshotTextRenderer().render(s)
        #expect(text.contains("exit rates: none available"))
        #expect(text.contains("interrupt storm: IRQ 36 (virtio1-req.0)"))
    }
}
