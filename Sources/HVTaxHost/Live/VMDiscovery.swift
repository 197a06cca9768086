import HVTaxModel

/// A thread of a VMM process (or a vhost kernel thread working for it).
public struct DiscoveredThread: Sendable, Equatable {
    public var tid: Int32
    /// The pid whose /proc directory holds the thread: the VMM's pid, or the vhost thread's own.
    public var pid: Int32
    public var name: String
    public var role: ThreadRole
    /// The vCPU index its name carries (`CPU 3/KVM` -> 3); nil for other roles.
    public var vcpu: Int?

    public init(tid: Int32, pid: Int32, name: String, role: ThreadRole, vcpu: Int?) {
        self.tid = tid
        self.pid = pid
        self.name = name
        self.role = role
        self.vcpu = vcpu
    }

    /// The thread's /proc directory.
    public var procPath: String { Self.procPath(pid: pid, tid: tid) }

    public static func procPath(pid: Int32, tid: Int32) -> String { "/proc/\(pid)/task/\(tid)" }
}

/// Where a VM's own cgroup is, read from /proc/PID/cgroup and the mount table.
public struct CgroupLocation: Sendable, Equatable {
    public var version: CgroupFigures.Version
    /// As /proc/PID/cgroup names it, reduced to the VM's level (libvirt's `/libvirt/emulator` dropped).
    public var path: String
    /// The host directory holding cpu.stat (v2) or cpuacct.usage and cpuacct.stat (v1).
    public var directory: String

    public init(version: CgroupFigures.Version, path: String, directory: String) {
        self.version = version
        self.path = path
        self.directory = directory
    }
}

public struct DiscoveredVM: Sendable, Equatable {
    public var pid: Int32
    public var name: String
    public var kind: VMMKind
    public var uuid: String?
    /// vCPU threads sorted by vCPU index, then emulator, I/O and vhost threads.
    public var threads: [DiscoveredThread]
    /// nil when the VMM shares a cgroup with the rest of the host (the root cgroup): its usage
    /// would not be the VM's.
    public var cgroup: CgroupLocation?

    public init(pid: Int32, name: String, kind: VMMKind, uuid: String?, threads: [DiscoveredThread], cgroup: CgroupLocation?) {
        self.pid = pid
        self.name = name
        self.kind = kind
        self.uuid = uuid
        self.threads = threads
        self.cgroup = cgroup
    }

    public var vcpuThreads: [DiscoveredThread] { threads.filter { $0.role == .vcpu } }
}

/// Finds the VMs of a host from procfs alone: which processes are VMMs (by executable and command
/// line), what each of their threads does (by thread name), and where their cgroup is. Every path
/// goes through `fs`, so the same code runs on the live host and on recorded fixture trees.
public struct VMDiscovery: Sendable {
    public let fs: HostFileSystem

    public init(fs: HostFileSystem) { self.fs = fs }

    /// Every VM now running. Processes that exit while being read are skipped (a normal race).
    public func discover() throws(HostError) -> [DiscoveredVM] {
        let pids = try fs.list("/proc").compactMap { Int32($0) }
        let mounts = (try? Procfs(fs).mounts()) ?? []
        var vms: [DiscoveredVM] = []
        var vhostByOwner: [Int32: [DiscoveredThread]] = [:]
        for pid in pids {
            guard let comm = try? fs.readValue("/proc/\(pid)/comm") else { continue }
            if let owner = Self.vhostOwner(comm) {
                vhostByOwner[owner, default: []].append(
                    DiscoveredThread(tid: pid, pid: pid, name: comm, role: .vhost, vcpu: nil))
                continue
            }
            if let vm = identify(pid: pid, comm: comm, mounts: mounts) { vms.append(vm) }
        }
        for index in vms.indices {
            vms[index].threads += vhostByOwner[vms[index].pid] ?? []
        }
        return vms
    }

    /// The VM a process is, or nil when it is not a VMM (most processes: decided from comm and
    /// argv[0] before the thread list is read).
    public func identify(pid: Int32, comm: String, mounts: [MountEntry]) -> DiscoveredVM? {
        guard Self.mayBeVMM(comm: comm), let raw = try? fs.read("/proc/\(pid)/cmdline", limit: 1 << 20) else { return nil }
        let args = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            .filter { !$0.isEmpty }
        guard let identity = Self.classify(pid: pid, comm: comm, arguments: args) else { return nil }
        // Kept even without vCPU threads (QEMU without debug-threads=on names them all alike): its
        // cgroup and process figures still count, and the snapshot says no vCPU was recognised.
        guard let threads = try? threads(of: pid) else { return nil }
        let cgroupText = (try? fs.readText("/proc/\(pid)/cgroup")) ?? ""
        var kind = identity.kind
        if kind == .qemu && (Self.isLibvirtCgroup(cgroupText) || args.contains(where: { $0.contains("/libvirt/") })) {
            kind = .libvirt
        }
        return DiscoveredVM(
            pid: pid, name: identity.name, kind: kind, uuid: identity.uuid, threads: threads,
            cgroup: Self.cgroupLocation(cgroupText, mounts: mounts))
    }

    /// The process's threads with their roles, vCPUs first by index.
    public func threads(of pid: Int32) throws(HostError) -> [DiscoveredThread] {
        var out: [DiscoveredThread] = []
        for entry in try fs.list("/proc/\(pid)/task") {
            guard let tid = Int32(entry), let name = try? fs.readValue("/proc/\(pid)/task/\(tid)/comm") else { continue }
            let (role, vcpu) = Self.role(ofThread: name)
            out.append(DiscoveredThread(tid: tid, pid: pid, name: name, role: role, vcpu: vcpu))
        }
        return out.sorted { a, b in
            if (a.role == .vcpu) != (b.role == .vcpu) { return a.role == .vcpu }
            if let va = a.vcpu, let vb = b.vcpu, va != vb { return va < vb }
            return a.tid < b.tid
        }
    }

    // MARK: Rules, as static functions over text so tests give them literal names

    /// Executables whose processes are worth reading a command line for. comm is at most 15 bytes
    /// (`qemu-system-x86` for qemu-system-x86_64). hvtax by prefix: an installed copy may carry a
    /// version or a suffix (`hvtax-1.2`), and the kernel names the process after the file.
    static func mayBeVMM(comm: String) -> Bool {
        comm.hasPrefix("qemu") || comm == "kvm" || comm == "firecracker" || comm == "cloud-hyperviso"
            || comm == "cloud-hypervisor" || comm == "crosvm" || comm.hasPrefix("hvtax")
    }

    /// The VMM kind, name and UUID from a command line; nil when it is not a VM.
    public static func classify(pid: Int32, comm: String, arguments args: [String]) -> (kind: VMMKind, name: String, uuid: String?)? {
        let program = args.first.map { String($0.split(separator: "/").last ?? Substring($0)) } ?? comm
        func value(after flag: String) -> String? {
            guard let index = args.firstIndex(of: flag), index + 1 < args.count else { return nil }
            return args[index + 1]
        }
        if program.hasPrefix("qemu") || comm.hasPrefix("qemu") || program == "kvm" {
            let name = value(after: "-name").map(qemuGuestName) ?? "qemu-\(pid)"
            return (.qemu, name, value(after: "-uuid"))
        }
        if program == "firecracker" || comm == "firecracker" {
            return (.firecracker, value(after: "--id") ?? "firecracker-\(pid)", nil)
        }
        if program == "cloud-hypervisor" || comm.hasPrefix("cloud-hyperviso") {
            return (.cloudHypervisor, "cloud-hypervisor-\(pid)", nil)
        }
        if program == "crosvm" || comm == "crosvm" {
            return (.crosvm, "crosvm-\(pid)", nil)
        }
        // `workload` as the subcommand, not anywhere: `hvtax report workload` reads a file.
        if program.hasPrefix("hvtax") || comm.hasPrefix("hvtax"), args.dropFirst().first == "workload" {
            // `hvtax workload` carries its identity as guest=NAME, as QEMU's -name does.
            let identity = args.first { $0.hasPrefix("guest=") || $0.contains(",guest=") || $0.hasPrefix("--name=guest=") }
            let name = identity.map(qemuGuestName) ?? "workload-\(pid)"
            return (.hvtaxWorkload, name, nil)
        }
        return nil
    }

    /// `guest=web01,debug-threads=on` -> web01; a bare `web01` stays; QEMU writes a literal comma as `,,`.
    static func qemuGuestName(_ option: String) -> String {
        var text = option
        if let range = text.range(of: "guest=") { text = String(text[range.upperBound...]) }
        var name = ""
        var index = text.startIndex
        while index < text.endIndex {
            let ch = text[index]
            let next = text.index(after: index)
            if ch == "," {
                if next < text.endIndex && text[next] == "," {
                    name.append(",")
                    index = text.index(after: next)
                    continue
                }
                break
            }
            name.append(ch)
            index = next
        }
        return name
    }

    /// The role and vCPU index a thread's name says (each VMM's vCPU names: `VCPUThreadName`).
    public static func role(ofThread name: String) -> (ThreadRole, Int?) {
        if let id = VCPUThreadName.index(name) { return (.vcpu, id) }
        if vhostOwner(name) != nil { return (.vhost, nil) }
        let lower = name.lowercased()
        if name.hasPrefix("IO ") || lower.contains("iothread") || lower.hasPrefix("worker") || lower.hasPrefix("_disk")
            || lower.hasPrefix("_net") || lower.hasPrefix("virtio") || lower.hasPrefix("v_blk") || lower.hasPrefix("v_net")
        {
            return (.io, nil)
        }
        return (.emulator, nil)
    }

    /// `vhost-1234` -> 1234: the pid of the VMM whose virtqueues the thread serves.
    static func vhostOwner(_ name: String) -> Int32? {
        name.hasPrefix("vhost-") ? Int32(name.dropFirst(6)) : nil
    }

    static func isLibvirtCgroup(_ text: String) -> Bool {
        text.contains("machine.slice") || text.contains(".libvirt-qemu") || text.contains("/machine/")
    }

    /// The VM's cgroup: the cpuacct hierarchy on a v1 or hybrid host that mounts it, else the
    /// unified hierarchy. libvirt puts the VMM's threads in `.../libvirt/emulator` and vCPUs in
    /// `.../libvirt/vcpuN` under the VM's scope; the scope is what holds the whole VM.
    public static func cgroupLocation(_ text: String, mounts: [MountEntry]) -> CgroupLocation? {
        var v1Path: String?
        var v2Path: String?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                v2Path = String(fields[2])
            } else if fields[1].split(separator: ",").contains("cpuacct") {
                v1Path = String(fields[2])
            }
        }
        // A hybrid host may leave cpuacct at the root while the VMM placed the VM in the unified
        // hierarchy (libvirt on a host whose cpu and cpuacct are mounted apart): then v2 holds it.
        if let v1Path, let mount = mounts.first(where: { $0.fsType == "cgroup" && $0.options.contains("cpuacct") }),
           vmLevel(v1Path) != "/" {
            let path = vmLevel(v1Path)
            return CgroupLocation(version: .v1, path: path, directory: mount.mountPoint + path)
        }
        if let v2Path, let mount = mounts.first(where: { $0.fsType == "cgroup2" }) {
            let path = vmLevel(v2Path)
            return path == "/" ? nil : CgroupLocation(version: .v2, path: path, directory: mount.mountPoint + path)
        }
        return nil
    }

    static func vmLevel(_ path: String) -> String {
        var parts = path.split(separator: "/").map(String.init)
        if let last = parts.last, last == "emulator" || last.hasPrefix("vcpu") || last.hasPrefix("iothread") {
            parts.removeLast()
        }
        if parts.last == "libvirt" { parts.removeLast() }
        return "/" + parts.joined(separator: "/")
    }
}
