import CKVM
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One KVM virtual machine: its memory slots, its vCPUs, its statistics.
public final class KVMVirtualMachine: Sendable {
    let fd: OwnedFileDescriptor
    public let device: KVMDevice
    /// The slots stay alive as long as the VM: KVM keeps their host addresses.
    private let slots = Mutex<[GuestMemory]>([])

    init(fd: OwnedFileDescriptor, device: KVMDevice) throws(KVMError) {
        self.fd = fd
        self.device = device
        // VMX without "unrestricted guest" runs real mode through a TSS in guest-physical space; QEMU
        // puts it just below 4 GB, far from hvtax's low memory. SVM and paravirtual backends accept
        // and ignore it.
        if device.checkExtension(CKVM_CAP_SET_TSS_ADDR) > 0 {
            let result = ioctl(fd.raw, CKVM_SET_TSS_ADDR, Int32(bitPattern: 0xFFFB_D000))
            if result < 0 { throw .systemCall(operation: "KVM_SET_TSS_ADDR", errno: errno) }
        }
    }

    /// mmaps `size` bytes of anonymous memory and installs it as memory slot `slot` at
    /// guest physical `guestPhysicalAddress`.
    public func addMemory(slot: UInt32, guestPhysicalAddress: UInt64, size: Int) throws(KVMError) -> GuestMemory {
        let memory = try GuestMemory(guestPhysicalAddress: guestPhysicalAddress, size: size)
        var region = kvm_userspace_memory_region(
            slot: slot, flags: 0, guest_phys_addr: guestPhysicalAddress,
            memory_size: UInt64(size), userspace_addr: UInt64(UInt(bitPattern: memory.base)))
        let result = ioctl(fd.raw, CKVM_SET_USER_MEMORY_REGION, &region)
        if result < 0 { throw KVMError.from(errno: errno, operation: "KVM_SET_USER_MEMORY_REGION slot \(slot)") }
        slots.withLock { $0.append(memory) }
        return memory
    }

    /// KVM_CREATE_VCPU and the mmap of its `struct kvm_run`.
    public func createVCPU(id: Int) throws(KVMError) -> KVMVCPU {
        let raw = ioctl(fd.raw, CKVM_CREATE_VCPU, Int32(id))
        if raw < 0 { throw KVMError.from(errno: errno, operation: "KVM_CREATE_VCPU \(id)") }
        return try KVMVCPU(id: id, fd: OwnedFileDescriptor(raw), vm: self)
    }

    /// The VM-wide binary statistics (MMU counters, page sizes, ...).
    public func statistics() throws(KVMError) -> KVMStatsReader {
        try KVMStatsReader(statsFdOf: fd, operation: "KVM_GET_STATS_FD (VM)")
    }
}
