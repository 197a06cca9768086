import HVTaxHost
import HVTaxModel
import Testing

/// The doctor on the machine running the tests. Each test asserts what is really true here and
/// cancels itself, with the reason printed, where the thing it needs is absent, so the suite also
/// passes (with skips) on a machine without KVM or tracefs.
@Suite("doctor on this machine")
struct LiveHostTests {
    let host = HostEnvironment.live()

    func skip(_ reason: String) throws -> Never {
        print("skipped: \(reason)")
        try Test.cancel(Comment(rawValue: reason))
    }

    @Test("/dev/kvm opens and answers KVM_GET_API_VERSION 12")
    func kvmDevice() throws {
        guard host.fs.exists("/dev/kvm") else { try skip("no /dev/kvm on this machine") }
        guard case .present(let status, let outcome) = host.kvm.probe("/dev/kvm") else {
            Issue.record("stat failed on an existing /dev/kvm")
            return
        }
        #expect(status.kind == .characterDevice)
        #expect(status.deviceMajor == 10 && status.deviceMinor == 232)
        guard status.allows(host.identity, read: true, write: true) else {
            guard case .openFailed(let error) = outcome else {
                Issue.record("expected a permission error, got \(outcome)")
                return
            }
            #expect(error.isPermissionDenied)
            try skip("this user may not open /dev/kvm (\(status.modeString)); the permission failure was reported")
        }
        #expect(outcome == .answered(apiVersion: 12, createVM: .created))
        #expect(Doctor(host: host).run().check(.kvmDevice)?.status == .pass)
    }

    @Test("the KVM backend is named as it is: paravirtual here, VT-x/AMD-V elsewhere")
    func backend() throws {
        let info = try host.procfs.cpuInfo()
        let modules = try host.procfs.loadedModules()
        let backend = KVMBackend.detect(cpuFlags: info.flags) { host.sysfs.moduleState($0, loadedModules: modules) }
        let check = try #require(Doctor(host: host).run().check(.virtualization))
        switch backend {
        case .paravirtual(let module):
            #expect(check.status == .warn)
            #expect(check.detail.contains("paravirtual KVM (\(module)"))
            #expect(check.detail.contains("guest code is emulated by the host kernel"))
            #expect(check.detail.contains("kvm_exit/kvm_entry tracepoints do not fire"))
            #expect(!info.flags.contains("vmx") && !info.flags.contains("svm"))
        case .intelVMX:
            #expect(check.status == .pass && check.detail.contains("Intel VT-x"))
        case .amdSVM:
            #expect(check.status == .pass && check.detail.contains("AMD-V"))
        case .none:
            try skip("no KVM backend on this machine (\(check.detail))")
        }
    }

    @Test("kvm_exit and the other hvtax tracepoints exist in tracefs")
    func tracepoints() throws {
        let mounts = try host.procfs.mounts()
        guard let tracefs = Tracefs.locate(fs: host.fs, mounts: mounts) else {
            try skip("tracefs is not mounted (\(Tracefs.mountCommand))")
        }
        guard host.identity.isRoot else { try skip("tracefs is root-only and we are not root") }
        guard host.fs.isDirectory(tracefs.file("events/kvm")) else { try skip("KVM is not loaded: no events/kvm") }
        #expect(tracefs.hasEvent(system: "kvm", name: "kvm_exit"))
        #expect(tracefs.hasEvent(system: "kvm", name: "kvm_entry"))
        #expect(tracefs.hasEvent(system: "kvm", name: "kvm_userspace_exit"))
        #expect(tracefs.hasEvent(system: "sched", name: "sched_switch"))
        let check = try #require(Doctor(host: host).run().check(.tracepoints))
        #expect(check.status == .pass)
        #expect(check.detail.contains("kvm_exit"))
    }

    @Test("the steal check agrees with the hypervisor flag and /proc/stat")
    func steal() throws {
        let isGuest = try host.procfs.cpuInfo().flags.contains("hypervisor")
        let check = try #require(Doctor(host: host).run().check(.steal))
        if isGuest {
            #expect(check.status == .warn && check.detail.contains("itself a guest"))
        } else {
            #expect(check.status != .warn)
        }
    }

    @Test("the kernel config, when exposed, says what schedstat's presence says")
    func schedInfo() throws {
        guard let config = try KernelConfig.load(host.fs, release: try host.procfs.kernelRelease()) else {
            try skip("no /proc/config.gz or /boot/config-$(uname -r) here")
        }
        let hasSchedstat = host.fs.exists("/proc/self/schedstat")
        #expect(config["CONFIG_SCHED_INFO"]?.isEnabled == hasSchedstat)
        let hasSysctl = host.fs.exists("/proc/sys/kernel/sched_schedstats")
        #expect(config["CONFIG_SCHEDSTATS"]?.isEnabled ?? false == hasSysctl)
    }

    @Test("a full run: every check answers, and a failure is what makes the exit status non-zero")
    func fullRun() {
        let report = Doctor(host: host).run()
        #expect(report.checks.map(\.id) == Doctor.checkIDs)
        #expect(report.exitCode == (report.checks.contains { $0.status == .fail } ? 1 : 0))
        #expect(report.host.root == "/")
    }
}
