import Foundation
import HVTaxHost
import HVTaxModel
import Testing

/// Against a real QEMU that no one here wrote: started with KVM, found by discovery, its vCPU
/// threads sampled and compared with /proc read independently. Skipped, with the reason printed,
/// where /dev/kvm or qemu-system-x86_64 is missing.
@Suite("live view on a real QEMU", .serialized)
struct LiveQEMUTests {
    func readSchedstat(_ pid: Int32, _ tid: Int32) throws -> UInt64 {
        let text = try String(contentsOfFile: "/proc/\(pid)/task/\(tid)/schedstat", encoding: .utf8)
        return UInt64(text.split(separator: " ")[0])!
    }

    @Test("discovery finds the QEMU and both vCPU threads; sampled on-CPU time matches /proc; guest time missing is flagged here")
    func realQEMU() throws {
        if let reason = RunningQEMU.unavailableReason { try skipLiveTest(reason) }
        let name = "hvtax-live-\(getpid())"
        let vm = try RunningQEMU(name: name)
        defer { withExtendedLifetime(vm) {} }

        // QEMU names its vCPU threads once the machine is set up: wait for them, at most 10 s.
        let sampler = LiveSampler(fs: .live)
        var found: DiscoveredVM?
        for _ in 0..<100 {
            _ = try sampler.sample()
            found = sampler.vms.first { $0.pid == vm.pid }
            if let f = found, f.vcpuThreads.count == 2 { break }
            usleep(100_000)
        }
        let qemu = try #require(found, "discovery did not find QEMU pid \(vm.pid)")
        #expect(qemu.name == name)
        #expect(qemu.kind == .qemu)
        #expect(qemu.vcpuThreads.map(\.name) == ["CPU 0/KVM", "CPU 1/KVM"])
        #expect(qemu.vcpuThreads.map(\.vcpu) == [0, 1])
        #expect(qemu.threads.contains { $0.role == .emulator && $0.tid == vm.pid })

        // One interval of 2 s, bracketed by independent reads of schedstat.
        var analyzer = SnapshotAnalyzer(
            ticksPerSecond: sampler.ticksPerSecond, root: "/", exitRateSource: sampler.exitRateSource, backend: sampler.backend)
        let tids = qemu.vcpuThreads.map(\.tid)
        let before = try tids.map { try readSchedstat(vm.pid, $0) }
        _ = analyzer.add(try sampler.sample(), vms: sampler.vms, affinity: sampler.affinity)
        sleep(2)
        let ended = analyzer.add(try sampler.sample(), vms: sampler.vms, affinity: sampler.affinity)
        let snapshot = try #require(ended)
        let after = try tids.map { try readSchedstat(vm.pid, $0) }
        let figures = try #require(snapshot.vms.first { $0.pid == vm.pid })
        #expect(figures.vcpus.count == 2)
        for (index, vcpu) in figures.vcpus.enumerated() {
            let independent = after[index] - before[index]
            // The sampler's reads lie inside the independent ones: its delta can only be smaller,
            // by what ran between the reads (a few ms at most on a busy 2-CPU machine).
            #expect(vcpu.onCPUNs <= independent)
            #expect(independent - vcpu.onCPUNs < 50_000_000, "vCPU \(vcpu.vcpu): sampler \(vcpu.onCPUNs) ns vs /proc \(independent) ns")
        }
        // QEMU's boot vCPU spins in emulated firmware: it really burns CPU.
        #expect(figures.vcpus[0].onCPUNs > 100_000_000, "vCPU 0 ran only \(figures.vcpus[0].onCPUNs) ns in 2 s")
        #expect([.none, .debugfs, .tracepointCounters].contains(snapshot.exitRates.kind))
        if snapshot.exitRates.kind == .tracepointCounters {
            // QEMU's firmware really exits: what fired is counted for this VM, by reason.
            #expect(figures.exitReasons.contains { $0.count > 0 }, "no counted kvm tracepoint fired for QEMU in 2 s")
            print("live QEMU exits: " + figures.exitReasons.filter { $0.count > 0 }.map { "\($0.reason) \($0.count)" }.joined(separator: ", "))
        }

        // This machine's discrepancy: guest code emulated in the host kernel, guest_time zero.
        if case .paravirtual = sampler.backend {
            #expect(figures.vcpus.allSatisfy { $0.guestNs == 0 })
            let finding = try #require(snapshot.findings.first { $0.vm == name && $0.kind == .guestTimeMissing })
            #expect(finding.detail.contains("emulates guest instructions in the host kernel"))
            #expect(snapshot.exitRates.detail.contains("kvm_exit does not fire") || snapshot.exitRates.detail.contains("kvm_exit (does not fire"))
            print("live QEMU: \(finding.detail)")
        } else {
            print("not a paravirtual KVM host: the guest-time discrepancy is not expected here")
        }
    }

    /// A cgroup v1 cpuacct group of the test's own, holding the QEMU so the cgroup sources have a VM
    /// cgroup to compare; removed when the test ends (QEMU killed and reaped first).
    final class OwnCgroup {
        let directory: String
        init?(name: String, mounts: [MountEntry]) {
            guard getuid() == 0, let mount = mounts.first(where: { $0.fsType == "cgroup" && $0.options.contains("cpuacct") }) else { return nil }
            directory = mount.mountPoint + "/" + name
            guard mkdir(directory, 0o755) == 0 else { return nil }
        }
        func add(_ pid: Int32) throws {
            try String(pid).write(toFile: directory + "/cgroup.procs", atomically: false, encoding: .utf8)
        }
        func remove() { rmdir(directory) }
        deinit { remove() }
    }

    @Test("validate on a real QEMU: the emulated guest's time is seen as system time with guest_time zero, detected and explained; stat, process and cgroup figures agree with schedstat")
    func validateRealQEMU() throws {
        if let reason = RunningQEMU.unavailableReason { try skipLiveTest(reason) }
        let name = "hvtax-validate-\(getpid())"
        let cgroup = OwnCgroup(name: name, mounts: (try? Procfs(.live).mounts()) ?? [])
        if cgroup == nil { print("no cgroup v1 cpuacct hierarchy or not root: the cgroup comparisons are not exercised") }
        let vm: RunningQEMU
        do {
            vm = try RunningQEMU(name: name)
        } catch {
            cgroup?.remove()
            throw error
        }
        // The cgroup can go only once QEMU has.
        defer {
            vm.stop()
            cgroup?.remove()
        }
        try cgroup?.add(vm.pid)

        let sampler = LiveSampler(fs: .live)
        sampler.readsProcessTotals = true
        var found: DiscoveredVM?
        for _ in 0..<100 {
            _ = try sampler.sample()
            found = sampler.vms.first { $0.pid == vm.pid }
            if let f = found, f.vcpuThreads.count == 2 { break }
            usleep(100_000)
        }
        let qemu = try #require(found)
        if cgroup != nil { #expect(qemu.cgroup?.path == "/" + name) }
        let before = try sampler.sample()
        sleep(2)
        let after = try sampler.sample()
        let validation = AccountingValidator(ticksPerSecond: sampler.ticksPerSecond, backend: sampler.backend)
            .validate(from: before, to: after, vms: sampler.vms.filter { $0.pid == vm.pid })
        let account = try #require(validation.vms.first)
        func comparison(_ source: AccountingSource) -> AccountingComparison? { account.comparisons.first { $0.source == source } }
        #expect(account.figures.vcpuOnCPUNs > 200_000_000, "QEMU's boot vCPU spins in emulated firmware")
        #expect(comparison(.threadStat)?.state == .agrees, "\(comparison(.threadStat)?.explanation ?? "")")
        #expect(comparison(.processStat)?.state == .agrees, "\(comparison(.processStat)?.explanation ?? "")")
        if cgroup != nil {
            #expect(comparison(.cgroupUsage)?.state == .agrees, "\(comparison(.cgroupUsage)?.explanation ?? "")")
            #expect(comparison(.cgroupUserSystem)?.state == .agrees, "\(comparison(.cgroupUserSystem)?.explanation ?? "")")
        }
        if case .paravirtual = sampler.backend {
            let guest = try #require(comparison(.guestTime))
            #expect(guest.state == .disagrees)
            #expect(guest.cause == .emulatedGuestAsSystem)
            #expect(guest.discrepancyRatio == 1)
            #expect(account.figures.vcpuGuestNs == 0)
            // On-CPU time seen as system time: within the tick allowance of schedstat. A user tick
            // or two may land while a vCPU thread is back in QEMU for an I/O exit (seen under load).
            #expect(account.figures.vcpuUserNs <= account.figures.vcpuOnCPUNs / 10 + 20_000_000,
                    "user \(account.figures.vcpuUserNs) ns of \(account.figures.vcpuOnCPUNs) ns on CPU")
            #expect(Double(account.figures.vcpuSystemNs) >= 0.9 * Double(account.figures.vcpuOnCPUNs))
            #expect(validation.verdicts.first { $0.source == .guestTime }?.verdict == .notTrustworthy)
            print("validate on QEMU: \(guest.explanation)")
        } else {
            print("not a paravirtual KVM host: the emulated-guest discrepancy is not expected here")
        }
        #expect(validation.verdicts.first { $0.source == .threadStat }?.verdict == .trustworthy)
    }
}

