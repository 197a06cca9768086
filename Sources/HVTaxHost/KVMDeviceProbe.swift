#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What opening the KVM device showed. A fixture tree cannot hold a character device or answer an
/// ioctl, so this is the seam where tests substitute a canned answer.
public enum KVMDeviceFacts: Sendable, Equatable {
    /// stat failed (usually ENOENT: no KVM module, or a container without the device).
    case unavailable(HostError)
    case present(FileStatus, KVMOpenOutcome)
}

public enum KVMOpenOutcome: Sendable, Equatable {
    /// Not attempted, e.g. the tree is not the live host.
    case notAttempted(reason: String)
    case openFailed(HostError)
    case apiVersionFailed(HostError)
    /// KVM_GET_API_VERSION answered; KVM_CREATE_VM then proves more than the version does.
    case answered(apiVersion: Int32, createVM: CreateVMOutcome)
}

public enum CreateVMOutcome: Sendable, Equatable {
    /// A VM was created and closed at once.
    case created
    case failed(HostError)
    /// Not tried: the API version was not one we know.
    case notTried
}

public protocol KVMDeviceProbing: Sendable {
    func probe(_ path: String) -> KVMDeviceFacts
}

/// The real probe: stat, open read-write, KVM_GET_API_VERSION, KVM_CREATE_VM. It creates no vCPU and
/// no memory, and the VM file descriptor is closed at once, so nothing is left behind.
public struct LiveKVMDeviceProbe: KVMDeviceProbing {
    public let fs: HostFileSystem

    public init(fs: HostFileSystem) { self.fs = fs }

    /// _IO(KVMIO=0xAE, 0x00) and _IO(0xAE, 0x01): request numbers from <linux/kvm.h>, written out
    /// because Swift cannot import the _IO macros.
    public static let getAPIVersion: UInt = 0xAE00
    public static let createVM: UInt = 0xAE01
    /// The only API version there has ever been; anything else is not a KVM we understand.
    public static let expectedAPIVersion: Int32 = 12

    public func probe(_ path: String) -> KVMDeviceFacts {
        let status: FileStatus
        do { status = try fs.status(path) } catch { return .unavailable(error) }
        // A device node inside a fixture or a mounted image is not this machine's to open.
        guard fs.isLiveRoot else {
            return .present(status, .notAttempted(reason: "not opened: host root is \(fs.root)"))
        }
        guard status.kind == .characterDevice else {
            return .present(status, .notAttempted(reason: "not a character device"))
        }
        let fd = open(fs.resolve(path), O_RDWR | O_CLOEXEC)
        if fd < 0 { return .present(status, .openFailed(HostError(.open, path, errno: errno))) }
        defer { close(fd) }
        let version = ioctl(fd, Self.getAPIVersion)
        if version < 0 {
            return .present(
                status, .apiVersionFailed(HostError(.ioctl, path, errno: errno, reason: "KVM_GET_API_VERSION")))
        }
        // Only try a VM on the API we know; type 0 is the default VM type on every architecture.
        guard version == Self.expectedAPIVersion else {
            return .present(status, .answered(apiVersion: version, createVM: .notTried))
        }
        let vm = ioctl(fd, Self.createVM, CInt(0))
        if vm < 0 {
            let error = HostError(.ioctl, path, errno: errno, reason: "KVM_CREATE_VM")
            return .present(status, .answered(apiVersion: version, createVM: .failed(error)))
        }
        close(vm)
        return .present(status, .answered(apiVersion: version, createVM: .created))
    }
}

/// A canned answer, for fixture trees and for tests of the verdicts.
public struct FixedKVMDeviceProbe: KVMDeviceProbing {
    public var facts: KVMDeviceFacts
    public init(_ facts: KVMDeviceFacts) { self.facts = facts }
    public func probe(_ path: String) -> KVMDeviceFacts { facts }
}
