/// Where a vCPU thread's wall time goes. Every instant between a vCPU's first and last traced
/// event belongs to exactly one of these, so the six parts add up to the wall time exactly.
public enum VCPUState: String, Codable, Sendable, CaseIterable {
    /// Between kvm_entry and kvm_exit: the guest runs on the physical CPU.
    case guest
    /// After an exit, on CPU in the host kernel (KVM's exit handlers), until entry or a userspace exit.
    case hypervisor
    /// After kvm_userspace_exit, until the next entry: the userspace VMM (QEMU, Firecracker) handles it.
    case vmm
    /// Switched out while runnable (prev_state R/R+): waiting for a physical CPU. The guest sees steal.
    case preempted
    /// Switched out blocked (S/D), typically after a HLT exit: the guest is idle.
    case halted
    /// The trace cannot tell (before the first state-defining event, after lost events).
    case unknown
}
