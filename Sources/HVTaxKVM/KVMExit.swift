import CKVM

/// Why KVM_RUN returned to userspace, decoded from `struct kvm_run`.
public enum KVMExit: Sendable, Equatable {
    /// Port I/O (KVM_EXIT_IO). For OUT, `value` holds the first `size` bytes the guest wrote.
    case io(port: UInt16, isOut: Bool, size: UInt8, count: UInt32, value: UInt32)
    /// An access to guest-physical memory outside every slot (KVM_EXIT_MMIO).
    case mmio(address: UInt64, length: UInt32, isWrite: Bool, value: UInt64)
    /// HLT with no in-kernel interrupt controller to wait on (KVM_EXIT_HLT).
    case hlt
    /// Triple fault or similar: the guest is dead (KVM_EXIT_SHUTDOWN).
    case shutdown
    /// VM entry failed; `hardwareReason` is VMX/SVM specific (KVM_EXIT_FAIL_ENTRY).
    case failEntry(hardwareReason: UInt64, cpu: UInt32)
    /// KVM could not handle something, e.g. an instruction its emulator lacks (KVM_EXIT_INTERNAL_ERROR).
    case internalError(suberror: UInt32)
    /// A signal or `immediate_exit` interrupted KVM_RUN (KVM_EXIT_INTR, or EINTR).
    case interrupted
    /// Any other exit reason number, kept as is.
    case other(reason: UInt32)

    /// The KVM_EXIT_* name, as the kvm_userspace_exit tracepoint prints it.
    public var name: String {
        switch self {
        case .io: "KVM_EXIT_IO"
        case .mmio: "KVM_EXIT_MMIO"
        case .hlt: "KVM_EXIT_HLT"
        case .shutdown: "KVM_EXIT_SHUTDOWN"
        case .failEntry: "KVM_EXIT_FAIL_ENTRY"
        case .internalError: "KVM_EXIT_INTERNAL_ERROR"
        case .interrupted: "KVM_EXIT_INTR"
        case .other(let reason): "KVM_EXIT_\(reason)"
        }
    }

    /// Decodes the exit KVM_RUN left in the shared `kvm_run` area.
    static func decode(_ run: UnsafeMutablePointer<kvm_run>) -> KVMExit {
        let reason = run.pointee.exit_reason
        switch Int32(bitPattern: reason) {
        case KVM_EXIT_IO:
            let io = run.pointee.io
            let data = UnsafeRawPointer(run) + Int(io.data_offset)
            var value: UInt32 = 0
            for index in 0..<min(Int(io.size), 4) {
                value |= UInt32(data.load(fromByteOffset: index, as: UInt8.self)) << (8 * index)
            }
            return .io(port: io.port, isOut: io.direction == UInt8(KVM_EXIT_IO_OUT), size: io.size,
                       count: io.count, value: value)
        case KVM_EXIT_MMIO:
            let mmio = run.pointee.mmio
            let value = withUnsafeBytes(of: mmio.data) { bytes in
                var value: UInt64 = 0
                for index in 0..<min(Int(mmio.len), 8) { value |= UInt64(bytes[index]) << (8 * index) }
                return value
            }
            return .mmio(address: mmio.phys_addr, length: mmio.len, isWrite: mmio.is_write != 0, value: value)
        case KVM_EXIT_HLT: return .hlt
        case KVM_EXIT_SHUTDOWN: return .shutdown
        case KVM_EXIT_FAIL_ENTRY:
            let fail = run.pointee.fail_entry
            return .failEntry(hardwareReason: fail.hardware_entry_failure_reason, cpu: fail.cpu)
        case KVM_EXIT_INTERNAL_ERROR: return .internalError(suberror: run.pointee.internal.suberror)
        case KVM_EXIT_INTR: return .interrupted
        default: return .other(reason: reason)
        }
    }
}
