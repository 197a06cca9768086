import Foundation
import HVTaxHost
import HVTaxMetrics
import HVTaxModel
import Testing

@Suite("live view -> metric families")
struct LiveMetricsTests {
    /// web01 vCPU 0 in the libvirt fixture: 0.6 s on CPU, 0.08 s run delay, utime 0.6 s of which
    /// guest 0.55 s, stime 0.02 s, over a 1 s interval.
    @Test("vCPU states: on-CPU shared out by stat's split, steal from schedstat, idle the rest")
    func vcpuStates() throws {
        let snapshot = try MetricsFixtures.snapshot("live-libvirt-v2")
        var live = LiveMetrics()
        let families = live.add(snapshot)
        let seconds = try #require(families["hvtax_vcpu_seconds"])
        func state(_ s: String) -> Double? { seconds.value(["vm": "web01", "vcpu": "0", "state": s])?.number }
        #expect(abs(state("guest")! - 0.6 * 0.55 / 0.62) < 1e-12)
        #expect(abs(state("vmm")! - 0.6 * 0.05 / 0.62) < 1e-12)
        #expect(abs(state("hypervisor")! - 0.6 * 0.02 / 0.62) < 1e-12)
        #expect(state("steal") == 0.08)
        #expect(abs(state("idle")! - 0.32) < 1e-12)
        let sum = VCPUStateSplit.states.compactMap(state).reduce(0, +)
        #expect(abs(sum - 1) < 1e-12, "the five states add up to the interval")
        #expect(families["hvtax_vcpu_steal_ratio"]?.value(["vm": "web01", "vcpu": "0"]) == .number(0.08))
        #expect(families["hvtax_vcpu_context_switches"]?.value(["vm": "web01", "vcpu": "0", "kind": "involuntary"]) == .number(20))
        #expect(families["hvtax_vcpu_migrations"]?.value(["vm": "web01", "vcpu": "0"]) == .number(3))
        #expect(families["hvtax_vm_vmm_overhead_ratio"]?.value(["vm": "web01"]) == .number(47.0 / 847.0))
        #expect(families["hvtax_vm_cgroup_usage_seconds"]?.value(["vm": "web01"]) == .number(0.85))
        #expect(families["hvtax_vm"]?.value(["vm": "db,02"]) == .number(1), "a comma in a name is kept")
        #expect(families["hvtax_host_interrupts"]?.value() == .number(10_000))
        #expect(families["hvtax_host_interrupt_storms"]?.value(["cause": "on-vcpu-cpus"]) == .number(1))
        #expect(families["hvtax_vm_exits"] == nil, "no exit source in the fixture: no series, never zeros")
        #expect(families["hvtax_collector_up"]?.value(["collector": "kvm_debugfs_exits"]) == .number(0))
        #expect(families["hvtax_collector_up"]?.value(["collector": "cgroup"]) == .number(1))
    }

    @Test("VM tax: vCPU hypervisor + vmm time and the VMM threads over all its on-CPU time")
    func tax() throws {
        let snapshot = try MetricsFixtures.snapshot("live-libvirt-v2")
        var live = LiveMetrics()
        let families = live.add(snapshot)
        let web = try #require(snapshot.vms.first { $0.name == "web01" })
        let splits = web.vcpus.map { VCPUStateSplit($0, intervalNs: snapshot.intervalNs) }
        let vmm = Double(web.emulator.onCPUNs + web.io.onCPUNs + web.vhost.onCPUNs)
        let expected = (splits.reduce(0) { $0 + $1.taxNs } + vmm) / (splits.reduce(0) { $0 + $1.onCPUNs } + vmm)
        let tax = try #require(families["hvtax_vm_tax_ratio"]?.value(["vm": "web01"])?.number)
        #expect(abs(tax - expected) < 1e-12)
        #expect(tax > 0.05 && tax < 0.2)
    }

    @Test("counters add the intervals' deltas; a VM that leaves takes its series with it")
    func totals() throws {
        let snapshot = try MetricsFixtures.snapshot("live-libvirt-v2")
        var live = LiveMetrics()
        _ = live.add(snapshot)
        var second = snapshot
        second.sequence = 2
        let twice = live.add(second)
        #expect(twice["hvtax_vcpu_seconds"]?.value(["vm": "web01", "vcpu": "0", "state": "steal"]) == .number(0.16))
        #expect(twice["hvtax_samples"]?.value() == .number(2))
        #expect(twice["hvtax_vm_cgroup_usage_seconds"]?.value(["vm": "web01"]) == .number(1.7))
        var without = second
        without.vms.removeAll { $0.name == "web01" }
        let after = live.add(without)
        #expect(after["hvtax_vcpu_seconds"]?.samples.contains { $0.labelValues[0] == "web01" } == false)
        _ = live.add(second)
        let back = live.add(second)
        #expect(back["hvtax_vcpu_seconds"]?.value(["vm": "web01", "vcpu": "0", "state": "steal"]) == .number(0.16),
                "a VM seen again counts from zero (a counter reset to Prometheus)")
    }

    @Test("accounting discrepancy: every comparison hvtax validate makes, by VM, source and reference")
    func discrepancy() throws {
        let (snapshot, validation) = try MetricsFixtures.interval("live-firecracker-v1")
        var live = LiveMetrics()
        let families = live.add(snapshot, validation: validation)
        let family = try #require(families["hvtax_accounting_discrepancy_ratio"])
        var expected = 0
        for vm in validation.vms {
            for comparison in vm.comparisons {
                guard let ratio = comparison.discrepancyRatio else { continue }
                expected += 1
                #expect(family.value(["vm": vm.name, "source": comparison.source.rawValue, "reference": comparison.reference.rawValue])
                        == .number(ratio))
            }
        }
        expected += validation.host.filter { $0.discrepancyRatio != nil }.count
        #expect(family.samples.count == expected)
        #expect(expected > 0)
        #expect(live.add(snapshot)["hvtax_accounting_discrepancy_ratio"] == nil, "no validation, no ratios")
    }

    @Test("exit counts by reason from tracepoint counters accumulate, totals of split events left out; debugfs totals become reason=all")
    func exits() throws {
        var snapshot = try MetricsFixtures.snapshot("live-libvirt-v2")
        snapshot.vms[0].exitReasons = [ExitReasonRate(reason: "kvm_pio", count: 300, perSecond: 300),
                                       ExitReasonRate(reason: "kvm_userspace_exit", count: 121, perSecond: 121),
                                       ExitReasonRate(reason: "kvm_userspace_exit:IO", count: 120, perSecond: 120),
                                       ExitReasonRate(reason: "kvm_userspace_exit:INTR", count: 1, perSecond: 1)]
        snapshot.vms[1].exitsPerSecond = 2500
        var live = LiveMetrics()
        _ = live.add(snapshot)
        let families = live.add(snapshot)
        let exits = try #require(families["hvtax_vm_exits"])
        #expect(exits.value(["vm": "web01", "reason": "kvm_pio"]) == .number(600))
        #expect(exits.value(["vm": "web01", "reason": "kvm_userspace_exit:IO"]) == .number(240))
        #expect(exits.value(["vm": "web01", "reason": "kvm_userspace_exit:INTR"]) == .number(2))
        #expect(exits.value(["vm": "web01", "reason": "kvm_userspace_exit"]) == nil, "by reason only: sum() counts each exit once")
        #expect(exits.value(["vm": "db,02", "reason": "all"]) == .number(5000))
        #expect(exits.samples.count == 4)
    }

    @Test("two VMs with one name get distinct vm labels")
    func duplicateNames() throws {
        var snapshot = try MetricsFixtures.snapshot("live-libvirt-v2")
        snapshot.vms[1].name = snapshot.vms[0].name
        #expect(LiveMetrics.vmLabels(snapshot.vms) == ["web01 (pid 4100)", "web01 (pid 4200)"])
    }

    @Test("every family the live view produces is in the catalogue, with its declared labels")
    func catalogue() throws {
        var live = LiveMetrics()
        for name in ["live-libvirt-v2", "live-firecracker-v1"] {
            for family in live.add(try MetricsFixtures.snapshot(name)) {
                #expect(MetricCatalogue.all.contains(family.descriptor))
                #expect(family.samples.allSatisfy { $0.labelValues.count == family.descriptor.labels.count })
            }
        }
        #expect(Set(MetricCatalogue.all.map(\.name)).count == MetricCatalogue.all.count)
    }
}

@Suite("docs/metrics.md")
struct MetricsDocumentationTests {
    @Test("every metric of the catalogue is documented")
    func documented() throws {
        let here = #filePath
        let root = here[..<here.range(of: "/Tests/")!.lowerBound]
        let text = try String(contentsOfFile: "\(root)/docs/metrics.md", encoding: .utf8)
        for descriptor in MetricCatalogue.all {
            let names = descriptor.type == .histogram ? [descriptor.name] : [descriptor.exposedName]
            for name in names { #expect(text.contains("`\(name)`"), "\(name) missing from docs/metrics.md") }
        }
    }
}
