import HVTaxModel
import Testing

/// A trace without kvm_entry and kvm_exit (a KVM that does not fire them, as a paravirtual nested
/// one, or a recording without them): its on-CPU time cannot be split, so it is unknown and the tax
/// is not measured, while preempted and halted still come exactly from sched_switch.
struct NoExitEventsTests {
    // One vCPU thread over 1,100 µs: on CPU 100 µs, preempted (R) 200, on 300, blocked (S) 400, on 100.
    static let trace = """
        # tracer: nop
        #
          CPU 0/KVM-3001    (   3000) [002] ..... 10.000000: kvm_userspace_exit: reason KVM_EXIT_IO (2)
          CPU 0/KVM-3001    (   3000) [002] d..2. 10.000100: sched_switch: prev_comm=CPU 0/KVM prev_pid=3001 prev_prio=120 prev_state=R ==> next_comm=kworker/2:1 next_pid=77 next_prio=120
          kworker/2:1-77    (     77) [002] d..2. 10.000300: sched_switch: prev_comm=kworker/2:1 prev_pid=77 prev_prio=120 prev_state=S ==> next_comm=CPU 0/KVM next_pid=3001 next_prio=120
          CPU 0/KVM-3001    (   3000) [002] ..... 10.000400: kvm_userspace_exit: reason KVM_EXIT_IO (2)
          CPU 0/KVM-3001    (   3000) [002] d..2. 10.000600: sched_switch: prev_comm=CPU 0/KVM prev_pid=3001 prev_prio=120 prev_state=S ==> next_comm=swapper/2 next_pid=0 next_prio=120
                  <idle>-0  (-------) [002] d..2. 10.001000: sched_switch: prev_comm=swapper/2 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=CPU 0/KVM next_pid=3001 next_prio=120
          CPU 0/KVM-3001    (   3000) [002] ..... 10.001100: kvm_userspace_exit: reason KVM_EXIT_IO (2)

        """

    @Test("on-CPU time is unknown and the tax is not measured; preempted and halted are exact")
    func unknownOnCPU() throws {
        let report = try traceReport(ofText: Self.trace)
        let vcpu = try #require(report.vms.flatMap(\.vcpus).first { $0.tid == 3001 })
        var expected = TimeSplit()
        expected.preempted = 200_000
        expected.halted = 400_000
        expected.unknown = 500_000
        #expect(vcpu.split == expected)
        #expect(vcpu.tax.ratio == nil)
        #expect(report.host.tax.ratio == nil)
        #expect(vcpu.steal.ratio == 200.0 / 1100.0)
        #expect(report.quality.notes.contains { $0.hasPrefix("No kvm_exit/kvm_entry events: nothing marks where a vCPU goes back") })
    }
}
