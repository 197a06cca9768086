/// Everything hvtax inspects a host through: its files under one root, who we run as, and the two
/// things that are not files (the KVM device's ioctls and external tools). Live sampling and VM
/// discovery take the same value, so a test can hand any of them a fixture host.
public struct HostEnvironment: Sendable {
    public var fs: HostFileSystem
    public var identity: ProcessIdentity
    public var kvm: any KVMDeviceProbing
    public var tools: any ToolProbing

    public init(fs: HostFileSystem, identity: ProcessIdentity, kvm: any KVMDeviceProbing, tools: any ToolProbing) {
        self.fs = fs
        self.identity = identity
        self.kvm = kvm
        self.tools = tools
    }

    /// This machine, or the tree at `root` with this process's identity and PATH.
    public static func live(root: String = "/") -> HostEnvironment {
        let fs = HostFileSystem(root: root)
        return HostEnvironment(
            fs: fs, identity: .current(), kvm: LiveKVMDeviceProbe(fs: fs),
            tools: LiveToolProbe(fs: fs, searchPath: LiveToolProbe.environmentSearchPath()))
    }

    public var procfs: Procfs { Procfs(fs) }
    public var sysfs: Sysfs { Sysfs(fs) }
}
