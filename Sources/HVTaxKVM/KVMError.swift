#if canImport(Glibc)
import Glibc
#endif

/// What went wrong talking to KVM, where, and what the user can do about it.
///
/// Every case carries the operation that failed (an ioctl name or a path) so that a report can say
/// "KVM_CREATE_VM failed" rather than "errno 16".
public enum KVMError: Error, Sendable, Equatable {
    /// The device node does not exist: KVM is not loaded, or this is a container without it.
    case deviceMissing(path: String)
    /// Opening the device was refused (EACCES/EPERM).
    case permissionDenied(path: String)
    /// KVM_GET_API_VERSION returned something else than the stable API 12.
    case apiVersionMismatch(found: Int32, expected: Int32)
    /// A capability hvtax needs is not offered by this kernel.
    case missingCapability(name: String)
    /// KVM_CREATE_VM failed with EBUSY/ENODEV/EIO: another hypervisor (VirtualBox, VMware) holds
    /// VMX/SVM, or virtualization is disabled in firmware.
    case virtualizationBusy(operation: String, errno: Int32)
    /// The kernel could not allocate memory for the VM, the vCPU or a memory slot.
    case outOfMemory(operation: String)
    /// Any other failing system call.
    case systemCall(operation: String, errno: Int32)
    /// The guest stopped in a way the caller did not expect (an exception, a shutdown, an exit).
    case unexpectedExit(operation: String, exit: String)
    /// A binary statistics block is malformed at the given byte offset.
    case malformedStats(offset: Int, expected: String)
    /// A statistic hvtax relies on is absent from this kernel's descriptors.
    case missingStatistic(name: String)
    /// A guest program or memory layout does not fit where it must go.
    case guestLayout(String)
    /// A request the KVM layer cannot carry out as asked (e.g. a workload plan); says what to change.
    case invalidArgument(String)

    /// Maps an errno from a failing call into the case that tells the user what to do.
    static func from(errno code: Int32, operation: String) -> KVMError {
        switch code {
        case ENOMEM: return .outOfMemory(operation: operation)
        default: return .systemCall(operation: operation, errno: code)
        }
    }
}

extension KVMError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .deviceMissing(let path):
            return "\(path) does not exist: load the KVM module (modprobe kvm_intel or kvm_amd), "
                + "enable virtualization (VT-x/AMD-V) in the firmware, or pass the device into the container (docker run --device \(path))."
        case .permissionDenied(let path):
            return "permission denied on \(path): add your user to the kvm group (usermod -aG kvm $USER, then log in again) "
                + "or run as root."
        case .apiVersionMismatch(let found, let expected):
            return "KVM_GET_API_VERSION returned \(found), hvtax speaks \(expected): this kernel's KVM is too old or too new; "
                + "use a kernel with the stable KVM API (Linux 2.6.22 and later return 12)."
        case .missingCapability(let name):
            return "KVM does not offer \(name): use a newer kernel (binary statistics need Linux 5.14 or later)."
        case .virtualizationBusy(let operation, let code):
            return "\(operation) failed (\(errnoName(code))): another hypervisor (VirtualBox, VMware) owns VT-x/AMD-V, "
                + "or virtualization is disabled in the firmware; stop the other hypervisor or enable VT-x/AMD-V."
        case .outOfMemory(let operation):
            return "\(operation) failed with ENOMEM: free memory, raise the memlock/address-space limits (ulimit -l/-v), "
                + "or ask for fewer vCPUs."
        case .systemCall(let operation, let code):
            return "\(operation) failed: \(errnoName(code))."
        case .unexpectedExit(let operation, let exit):
            return "\(operation): the guest stopped unexpectedly (\(exit)); this is a bug in hvtax's guest or in this KVM."
        case .malformedStats(let offset, let expected):
            return "KVM binary statistics malformed at byte \(offset): expected \(expected)."
        case .missingStatistic(let name):
            return "this kernel's KVM statistics have no '\(name)'."
        case .guestLayout(let message):
            return "guest layout: \(message)"
        case .invalidArgument(let message):
            return message
        }
    }
}

/// `strerror` text with the symbolic name, e.g. "EBUSY: Device or resource busy".
func errnoName(_ code: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", EBADF: "EBADF", EAGAIN: "EAGAIN",
        ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST",
        ENODEV: "ENODEV", EINVAL: "EINVAL", ENOSPC: "ENOSPC", ENOTTY: "ENOTTY", ENXIO: "ENXIO",
        E2BIG: "E2BIG", EOPNOTSUPP: "EOPNOTSUPP",
    ]
    let text = String(cString: strerror(code))
    return "\(names[code] ?? "errno \(code)"): \(text)"
}
