/// The vCPU index a VMM writes into the name of the thread that runs it. Each VMM has its own
/// convention: QEMU `CPU 0/KVM` (with `-name ...,debug-threads=on`, as libvirt starts it),
/// Firecracker `fc_vcpu 0`, Cloud Hypervisor `vcpu0`, crosvm `crosvm_vcpu0`; hvtax workload uses
/// QEMU's. Live discovery reads it from /proc; trace analysis from the task names of the trace, for
/// a vCPU thread none of whose events carries a vcpu_id (kvm_entry/kvm_exit not recorded, or a
/// KVM backend that does not fire them).
public enum VCPUThreadName {
    /// The index the name gives, or nil when it is not a vCPU thread's name.
    public static func index(_ name: some StringProtocol) -> Int? {
        if name.hasPrefix("CPU "), name.hasSuffix("/KVM") { return number(name.dropFirst(4).dropLast(4)) }
        for prefix in ["fc_vcpu ", "fc_vcpu", "crosvm_vcpu", "vcpu"] where name.hasPrefix(prefix) {
            if let id = number(name.dropFirst(prefix.count)) { return id }
        }
        return nil
    }

    /// Decimal digits only: `Int("+1")` would take a sign no VMM writes.
    private static func number(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(text)
    }
}
