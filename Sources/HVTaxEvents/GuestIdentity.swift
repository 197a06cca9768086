/// A guest whose own trace is merged with its host's: events stamped with `TraceEvent.guest ==
/// index` are this guest's, their `cpu` is the guest CPU, which is the vCPU of the same number.
public struct GuestIdentity: Sendable, Equatable {
    /// 1-based: 0 in `TraceEvent.guest` means the host.
    public var index: UInt16
    /// The name the host's GUEST option gives it (libvirt's domain name, QEMU's `-name`).
    public var name: String
    public var traceID: UInt64
    /// The guest's trace file and the host's.
    public var guestFile: String
    public var hostFile: String
    /// vCPU id -> the host thread that runs it.
    public var vcpuThreads: [Int32: Int32]

    public init(index: UInt16, name: String, traceID: UInt64, guestFile: String, hostFile: String, vcpuThreads: [Int32: Int32]) {
        self.index = index
        self.name = name
        self.traceID = traceID
        self.guestFile = guestFile
        self.hostFile = hostFile
        self.vcpuThreads = vcpuThreads
    }
}
