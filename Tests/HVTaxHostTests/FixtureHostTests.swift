import HVTaxHost
import HVTaxModel
import Testing

/// The doctor run against fixture trees shaped like real hosts (see Fixtures/README.md). What a
/// tree cannot hold (a character device answering ioctls, a runnable perf, the user we run as)
/// comes from each row.
struct FixtureHost: Sendable, CustomTestStringConvertible {
    var name: String
    var identity: ProcessIdentity
    var kvm: KVMDeviceFacts
    var tools: [String: ToolFacts]
    var expected: [DoctorCheckID: DoctorStatus]
    /// Substrings that must appear in a check's detail (or remedy, for keys listed in `remedies`).
    var details: [DoctorCheckID: [String]] = [:]
    var remedies: [DoctorCheckID: [String]] = [:]

    var testDescription: String { name }

    var environment: HostEnvironment {
        HostEnvironment(
            fs: HostFileSystem(root: Fixtures.root(name)), identity: identity, kvm: FixedKVMDeviceProbe(kvm),
            tools: FixedToolProbe(tools))
    }

    static let root = ProcessIdentity(uid: 0, gid: 0, groups: [0])
    static func kvmDeviceOK(_ permissions: UInt32, _ gid: UInt32) -> KVMDeviceFacts {
        .present(
            FileStatus(kind: .characterDevice, permissions: permissions, uid: 0, gid: gid, deviceMajor: 10, deviceMinor: 232),
            .answered(apiVersion: 12, createVM: .created))
    }

    static let all: [FixtureHost] = [
        FixtureHost(
            name: "intel-vmx-host", identity: root, kvm: kvmDeviceOK(0o660, 108),
            tools: ["perf": .found(path: "/usr/bin/perf", version: .success("perf version 6.8.12"))],
            expected: [
                .virtualization: .pass, .kvmModules: .pass, .kvmDevice: .pass, .tracefs: .pass, .tracepoints: .pass,
                .tracefsInstances: .warn, .debugfs: .pass, .perf: .pass, .schedInfo: .pass, .schedStats: .pass,
                .cpuIsolation: .pass, .irqbalance: .info, .hugepages: .pass, .cgroups: .pass, .steal: .pass,
                .throttling: .warn,
            ],
            details: [
                .virtualization: ["Intel VT-x (vmx flag)"],
                .kvmModules: ["kvm (loaded), kvm_intel (loaded)"],
                .kvmDevice: ["crw-rw---- root:kvm 10:232, opened read-write as root: KVM_GET_API_VERSION 12, KVM_CREATE_VM ok"],
                .tracefs: ["mounted at /sys/kernel/tracing", "trace_clock local"],
                .tracepoints: ["all 7 that hvtax uses exist", "(15 kvm events in all)"],
                .tracefsInstances: ["1 left by killed hvtax runs: hvtax-4242", "in use by a running hvtax: hvtax-5150-vm1"],
                .debugfs: ["exits = 1234567"],
                .schedStats: ["kernel.sched_schedstats = 1"],
                .cpuIsolation: ["isolated CPUs 2-7 (isolcpus=managed_irq,domain,2-7), nohz_full 2-7"],
                .irqbalance: ["pid 912"],
                .hugepages: ["HugePages_Total 1024 (2048 kB pages)", "2.0 GiB reserved"],
                .cgroups: ["v2 (unified): v2 at /sys/fs/cgroup (controllers: cpuset cpu io memory hugetlb pids rdma misc)"],
                .steal: ["bare metal"],
                .throttling: ["2 CPUs with cpufreq: lowest cpu0 at 84% of cpuinfo_max_freq", "13 thermal throttle events since boot",
                              "x86_pkg_temp 48.0°C (passive trip 95.0°C)"],
            ],
            remedies: [.tracefsInstances: ["rmdir /sys/kernel/tracing/instances/hvtax-4242"]]),
        FixtureHost(
            name: "amd-svm-host", identity: ProcessIdentity(uid: 1000, gid: 1000, groups: [1000]),
            kvm: .present(
                FileStatus(kind: .characterDevice, permissions: 0o660, uid: 0, gid: 108, deviceMajor: 10, deviceMinor: 232),
                .openFailed(HostError(.open, "/dev/kvm", errno: 13))),
            tools: [:],
            expected: [
                .virtualization: .pass, .kvmModules: .pass, .kvmDevice: .fail, .tracefs: .warn, .tracepoints: .pass,
                .tracefsInstances: .info, .debugfs: .pass, .perf: .warn, .schedInfo: .pass, .schedStats: .warn,
                .cpuIsolation: .info, .irqbalance: .pass, .hugepages: .warn, .cgroups: .pass, .steal: .pass,
                .throttling: .warn,
            ],
            details: [
                .virtualization: ["AMD-V (svm flag)"],
                .kvmModules: ["kvm (loaded), kvm_amd (loaded)"],
                .kvmDevice: ["opening it read-write as user alice fails: Permission denied (EACCES)"],
                .tracefs: ["mounted at /sys/kernel/debug/tracing (through debugfs)", "needs root"],
                .tracefsInstances: ["not hvtax's: kvm-capture"],
                .perf: ["not found on PATH"],
                .schedStats: ["built but off (kernel.sched_schedstats = 0)"],
                .cpuIsolation: ["none", "all 4 CPUs"],
                .hugepages: ["transparent_hugepage [never]", "4 kB pages"],
                .cgroups: ["v1 (legacy): v1 hierarchies name=systemd, cpu, cpuacct, memory, cpuset, pids", "v1 cpuacct"],
                .throttling: ["throttled now", "lowest cpu0 at 50%", "a cap) on CPUs 0,1", "no thermal_throttle counters"],
            ],
            remedies: [
                .kvmDevice: ["usermod -aG kvm alice"],
                .schedStats: ["sysctl -w kernel.sched_schedstats=1"],
            ]),
        FixtureHost(
            name: "pvm-nested-guest", identity: root, kvm: kvmDeviceOK(0o600, 0),
            tools: ["perf": .found(path: "/usr/bin/perf", version: .success("perf version 6.1.187"))],
            expected: [
                .virtualization: .warn, .kvmModules: .pass, .kvmDevice: .pass, .tracefs: .pass, .tracepoints: .pass,
                .tracefsInstances: .pass, .debugfs: .warn, .perf: .pass, .schedInfo: .pass, .schedStats: .warn,
                .cpuIsolation: .info, .irqbalance: .pass, .hugepages: .pass, .cgroups: .pass, .steal: .warn,
                .throttling: .info,
            ],
            details: [
                .virtualization: [
                    "paravirtual KVM (kvm_pvm built in, nested_pvm=1), no vmx/svm flag",
                    "guest code is emulated by the host kernel", "kvm_exit/kvm_entry tracepoints do not fire",
                ],
                .kvmModules: ["kvm (built in), kvm_pvm (built in)", "no /proc/modules"],
                .kvmDevice: ["crw------- root:root 10:232 (only root can open it)", "KVM_GET_API_VERSION 12"],
                .tracepoints: ["all 7 that hvtax uses exist", "(91 kvm events in all)", "do not fire with kvm_pvm"],
                .tracefsInstances: ["none left behind"],
                .debugfs: ["not mounted"],
                .schedInfo: ["CONFIG_SCHED_INFO=y in /proc/config.gz"],
                .schedStats: ["CONFIG_SCHEDSTATS is not set in /proc/config.gz"],
                .cpuIsolation: ["kernel without CONFIG_NO_HZ_FULL", "all 2 CPUs"],
                .hugepages: ["transparent_hugepage [madvise]"],
                .cgroups: [
                    "hybrid: v1 hierarchies cpu, cpuacct, cpuset, memory, devices, freezer, blkio, pids, name=systemd",
                    "v2 at /sys/fs/cgroup/unified (controllers: hugetlb)",
                ],
                .steal: ["itself a guest", "steal 131 of 201077 ticks (0.07%)"],
                .throttling: ["(usual in a VM): throttling cannot be seen on this host"],
            ],
            remedies: [.debugfs: ["mount -t debugfs none /sys/kernel/debug"]]),
        FixtureHost(
            name: "no-kvm-host", identity: root, kvm: .unavailable(HostError(.stat, "/dev/kvm", errno: 2)), tools: [:],
            expected: [
                .virtualization: .fail, .kvmModules: .fail, .kvmDevice: .fail, .tracefs: .fail, .tracepoints: .warn,
                .tracefsInstances: .info, .debugfs: .warn, .perf: .warn, .schedInfo: .warn, .schedStats: .warn,
                .cpuIsolation: .info, .irqbalance: .pass, .hugepages: .warn, .cgroups: .warn, .steal: .pass,
                .throttling: .info,
            ],
            details: [
                .virtualization: ["no vmx or svm flag"],
                .kvmDevice: ["missing"],
                .tracefs: ["not mounted"],
                .schedInfo: ["no /proc/PID/schedstat"],
                .schedStats: ["no kernel config, no /proc/sys/kernel/sched_schedstats"],
                .cgroups: ["no cgroup file system mounted"],
            ],
            remedies: [
                .virtualization: ["firmware"],
                .kvmModules: ["modprobe kvm_intel"],
                .tracefs: ["mount -t tracefs nodev /sys/kernel/tracing"],
                .tracepoints: ["mount -t tracefs nodev /sys/kernel/tracing"],
            ]),
    ]
}

@Suite("doctor on fixture hosts")
struct FixtureHostTests {
    @Test("each check's status", arguments: FixtureHost.all)
    func statuses(_ fixture: FixtureHost) {
        let report = Doctor(host: fixture.environment).run()
        #expect(report.checks.map(\.id) == Doctor.checkIDs)
        for (id, status) in fixture.expected {
            let check = report.check(id)
            #expect(check?.status == status, "\(id): \(check?.detail ?? "missing")")
        }
        #expect(Set(fixture.expected.keys) == Set(Doctor.checkIDs), "every check has an expected status")
    }

    @Test("details and remedies say what the host has", arguments: FixtureHost.all)
    func details(_ fixture: FixtureHost) throws {
        let report = Doctor(host: fixture.environment).run()
        for (id, needles) in fixture.details {
            let detail = try #require(report.check(id)).detail
            for needle in needles { #expect(detail.contains(needle), "\(id): \(detail)") }
        }
        for (id, needles) in fixture.remedies {
            let remedy = try #require(report.check(id)?.remedy, "\(id) has no remedy")
            for needle in needles { #expect(remedy.contains(needle), "\(id): \(remedy)") }
        }
    }

    @Test("every warning and failure has a one-line remedy; every line is one line", arguments: FixtureHost.all)
    func remediesPresent(_ fixture: FixtureHost) {
        let report = Doctor(host: fixture.environment).run()
        for check in report.checks {
            if check.status == .warn || check.status == .fail {
                #expect(check.remedy != nil, "\(check.id) \(check.status) without remedy: \(check.detail)")
            }
            #expect(!check.detail.contains("\n") && !(check.remedy ?? "").contains("\n"))
            #expect(!check.sources.isEmpty, "\(check.id) names no source")
        }
    }

    @Test(
        "exit status is non-zero only when a check fails",
        arguments: zip(FixtureHost.all.map(\.name), [0, 1, 0, 1] as [Int32]))
    func exitCode(_ name: String, _ expected: Int32) throws {
        let fixture = try #require(FixtureHost.all.first { $0.name == name })
        let report = Doctor(host: fixture.environment).run()
        #expect(report.exitCode == expected)
        #expect((report.summary.fail > 0) == (expected != 0))
    }

    @Test("the host header comes from the tree")
    func header() {
        let fixture = FixtureHost.all[0]
        let report = Doctor(host: fixture.environment).run()
        #expect(report.host.hostname == "kvm-intel-01")
        #expect(report.host.kernelRelease == "6.8.0-45-generic")
        #expect(report.host.cpus == 8)
        #expect(report.host.user == "root")
        #expect(report.host.root.hasSuffix("/Fixtures/intel-vmx-host"))
        #expect(report.schema == "hvtax.doctor/1")
    }

    @Test("the live probes do not open or run anything inside a tree that is not /")
    func liveProbesStayOutOfTrees() {
        let fs = HostFileSystem(root: Fixtures.root("intel-vmx-host"))
        guard case .present(let status, .notAttempted(let reason)) = LiveKVMDeviceProbe(fs: fs).probe("/dev/kvm") else {
            Issue.record("expected the fixture's /dev/kvm to be inspected only")
            return
        }
        #expect(status.kind == .regular)
        #expect(reason.contains("host root is"))
        let perf = LiveToolProbe(fs: fs, searchPath: ["/usr/bin"]).probe("perf", versionArguments: ["version"])
        #expect(perf == .notFound(searched: ["/usr/bin"]))
    }
}

/// Locates the fixture trees beside this file, so tests need no bundle and run from any directory.
enum Fixtures {
    static let directory: String = {
        let file = "\(#filePath)"
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures"
    }()

    static func root(_ name: String) -> String { directory + "/" + name }
}
