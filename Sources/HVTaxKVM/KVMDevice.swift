import CKVM

#if canImport(Glibc)
import Glibc
#endif

/// The KVM system device (`/dev/kvm`): API version, capabilities, and the factory of VMs.
public final class KVMDevice: Sendable {
    public static let defaultPath = "/dev/kvm"

    let fd: OwnedFileDescriptor
    public let path: String
    /// Size of the shared `struct kvm_run` area each vCPU fd maps (KVM_GET_VCPU_MMAP_SIZE).
    public let vcpuMmapSize: Int

    /// Opens the device and checks what hvtax needs: API 12, user memory, binary statistics.
    public init(path: String = KVMDevice.defaultPath) throws(KVMError) {
        let raw = open(path, O_RDWR | O_CLOEXEC)
        if raw < 0 {
            let code = errno
            switch code {
            case ENOENT, ENODEV, ENXIO: throw .deviceMissing(path: path)
            case EACCES, EPERM: throw .permissionDenied(path: path)
            default: throw .systemCall(operation: "open \(path)", errno: code)
            }
        }
        let fd = OwnedFileDescriptor(raw)
        let version = ioctl(raw, CKVM_GET_API_VERSION, 0)
        guard version == CKVM_API_VERSION else {
            throw .apiVersionMismatch(found: version, expected: CKVM_API_VERSION)
        }
        for (capability, name) in [
            (CKVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"),
            (CKVM_CAP_BINARY_STATS_FD, "KVM_CAP_BINARY_STATS_FD"),
            (CKVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"),
        ] where ioctl(raw, CKVM_CHECK_EXTENSION, capability) <= 0 {
            throw .missingCapability(name: name)
        }
        let mmapSize = ioctl(raw, CKVM_GET_VCPU_MMAP_SIZE, 0)
        guard mmapSize > 0 else { throw .systemCall(operation: "KVM_GET_VCPU_MMAP_SIZE", errno: errno) }
        self.fd = fd
        self.path = path
        self.vcpuMmapSize = Int(mmapSize)
    }

    /// Whether `path` can be opened, and if not the reason a test or a command should print.
    public static func availability(path: String = KVMDevice.defaultPath) -> (available: Bool, reason: String) {
        do {
            _ = try KVMDevice(path: path)
            return (true, "\(path) opened, API 12, binary stats present")
        } catch {
            return (false, error.description)
        }
    }

    /// KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value.
    public func checkExtension(_ capability: Int32) -> Int32 {
        ioctl(fd.raw, CKVM_CHECK_EXTENSION, capability)
    }

    /// KVM_CREATE_VM with the default machine type.
    public func createVirtualMachine() throws(KVMError) -> KVMVirtualMachine {
        let raw = ioctl(fd.raw, CKVM_CREATE_VM, 0)
        if raw < 0 {
            let code = errno
            switch code {
            case ENOMEM: throw .outOfMemory(operation: "KVM_CREATE_VM")
            // EBUSY: VMX/SVM held by another hypervisor; ENODEV/EIO: disabled or failed enabling.
            case EBUSY, ENODEV, EIO, EOPNOTSUPP: throw .virtualizationBusy(operation: "KVM_CREATE_VM", errno: code)
            default: throw .systemCall(operation: "KVM_CREATE_VM", errno: code)
            }
        }
        return try KVMVirtualMachine(fd: OwnedFileDescriptor(raw), device: self)
    }
}
