import HVTaxModel
import Testing

/// Where no event of a vCPU thread carries a vcpu_id (kvm_entry/kvm_exit not recorded, or a KVM
/// backend that does not fire them), the report takes the id from the thread's name, as live
/// discovery does, and says so; an event's vcpu_id always wins over the name.
struct VCPUNameTests {
    static let trace = """
        # tracer: nop
        #
          CPU 1/KVM-3002    (   3000) [001] ..... 20.000000: kvm_userspace_exit: reason KVM_EXIT_IO (2)
          fc_vcpu 2-4003    (   4000) [000] ..... 20.000010: kvm_userspace_exit: reason KVM_EXIT_MMIO (6)
          CPU 0/KVM-3001    (   3000) [002] d.... 20.000020: kvm_entry: vcpu 5, rip 0xffffffff81001234
          worker-5001       (   5000) [003] ..... 20.000030: kvm_userspace_exit: reason KVM_EXIT_IO (2)
          CPU 1/KVM-3002    (   3000) [001] ..... 20.001000: kvm_userspace_exit: reason KVM_EXIT_IO (2)
          fc_vcpu 2-4003    (   4000) [000] ..... 20.001010: kvm_userspace_exit: reason KVM_EXIT_MMIO (6)
          CPU 0/KVM-3001    (   3000) [002] d.... 20.001020: kvm_exit: vcpu 5 reason HLT rip 0xffffffff81001240 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
          worker-5001       (   5000) [003] ..... 20.001030: kvm_userspace_exit: reason KVM_EXIT_IO (2)

        """

    @Test("vCPU ids from QEMU's and Firecracker's thread names when no event carries one")
    func idsFromNames() throws {
        let report = try traceReport(ofText: Self.trace)
        let ids = Dictionary(uniqueKeysWithValues: report.vms.flatMap(\.vcpus).map { ($0.tid, $0.vcpu ?? -1) })
        #expect(ids == [3002: 1, 4003: 2, 3001: 5, 5001: -1], "names give 1 and 2, the event's vcpu_id 5 beats the name's 0, worker has none")
        #expect(report.quality.notes.contains { $0.hasPrefix("vCPU ids of 2 threads come from the thread names") })
    }

    @Test("vCPU thread names of each VMM", arguments: [
        ("CPU 0/KVM", 0), ("CPU 17/KVM", 17), ("fc_vcpu 3", 3), ("fc_vcpu3", 3), ("vcpu12", 12), ("crosvm_vcpu2", 2),
        ("CPU x/KVM", nil), ("CPU +1/KVM", nil), ("vcpu", nil), ("CPU 0/KVM2", nil), ("qemu-system-x86", nil),
    ] as [(String, Int?)])
    func names(name: String, index: Int?) {
        #expect(VCPUThreadName.index(name) == index)
    }
}
