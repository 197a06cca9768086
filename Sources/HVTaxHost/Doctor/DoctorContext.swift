import HVTaxModel

/// The host facts several checks share, read once. Each check reads whatever else it alone needs
/// through `host`; a failed read stays a `Result` so the check that needs it can report the error.
struct DoctorContext: Sendable {
    let host: HostEnvironment
    let mounts: Result<[MountEntry], HostError>
    let cpuInfo: Result<CPUInfo, HostError>
    /// nil inside the result: the kernel has no /proc/modules (no module support).
    let loadedModules: Result<Set<String>?, HostError>
    let kernelRelease: String?
    let kernelConfig: Result<KernelConfig?, HostError>
    let commandLine: Result<KernelCommandLine, HostError>
    let tracefs: Tracefs?
    let accounts: AccountNames
    let backend: KVMBackend
    /// Probed once: the virtualization check uses the answer too.
    let kvmDevice: KVMDeviceFacts

    static let kvmDevicePath = "/dev/kvm"

    init(_ host: HostEnvironment) {
        self.host = host
        let procfs = host.procfs
        mounts = Result(catching: { () throws(HostError) in try procfs.mounts() })
        cpuInfo = Result(catching: { () throws(HostError) in try procfs.cpuInfo() })
        loadedModules = Result(catching: { () throws(HostError) in try procfs.loadedModules() })
        kernelRelease = try? procfs.kernelRelease()
        let release = kernelRelease
        kernelConfig = Result(catching: { () throws(HostError) in try KernelConfig.load(host.fs, release: release) })
        commandLine = Result(catching: { () throws(HostError) in try procfs.commandLine() })
        tracefs = (try? mounts.get()).flatMap { Tracefs.locate(fs: host.fs, mounts: $0) }
        accounts = AccountNames.read(host.fs)
        let sysfs = host.sysfs
        let loaded = (try? loadedModules.get()) ?? nil
        backend = KVMBackend.detect(
            cpuFlags: (try? cpuInfo.get())?.flags ?? [],
            moduleState: { sysfs.moduleState($0, loadedModules: loaded) })
        kvmDevice = host.kvm.probe(Self.kvmDevicePath)
    }

    func moduleState(_ name: String) -> ModuleState {
        host.sysfs.moduleState(name, loadedModules: (try? loadedModules.get()) ?? nil)
    }

    /// Where module facts came from, for the sources list.
    var moduleSources: [String] {
        switch loadedModules {
        case .success(.some): ["/proc/modules", "/sys/module"]
        case .success(.none), .failure: ["/sys/module"]
        }
    }

    var isRoot: Bool { host.identity.isRoot }
    var userName: String { accounts.user(host.identity.uid) }

    var hostDescription: DoctorHost {
        DoctorHost(
            hostname: try? host.procfs.hostname(), kernelRelease: kernelRelease,
            cpus: (try? cpuInfo.get())?.processorCount, root: host.fs.root, user: userName)
    }

    /// "Intel" or "AMD" from the vendor string, for remedies that name a module.
    var vendorModule: String? {
        switch (try? cpuInfo.get())?.vendor {
        case "GenuineIntel": "kvm_intel"
        case "AuthenticAMD", "HygonGenuine": "kvm_amd"
        default: nil
        }
    }
}
