#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import HVTaxModel

/// Every counter the live view needs, read at one instant. No deltas here: `SnapshotAnalyzer`
/// turns two of these into a `HostSnapshot`.
public struct HostSample: Sendable {
    public var monotonicNs: UInt64
    public var realtimeNs: UInt64
    /// /proc/stat: ticks per CPU line (nil key: the aggregate `cpu` line).
    public var cpuTicks: [Int?: [UInt64]]
    /// By tid (vhost kernel threads by their own pid), in the order they were read.
    public var threads: ThreadCounterTable
    /// By VM pid.
    public var cgroups: [Int32: CgroupCounters]
    public var interrupts: InterruptCounts
    /// Exits per VM pid from debugfs, when it is readable.
    public var debugfsExits: [Int32: UInt64]
    /// /proc/PID/stat of each VMM process by pid (utime, stime, guest_time of the whole process),
    /// read only when the sampler's `readsProcessTotals` is on (for `hvtax validate`).
    public var processes: [Int32: ThreadCounters] = [:]
    /// `virsh domstats` by domain name, when a caller collected them at this sample (nil: not asked).
    public var libvirt: LibvirtStatsReading?
    /// Per VM pid: cumulative exits by reason from kvm tracepoint counters (perf_event_open in
    /// counting mode), when that source is in use.
    public var exitCounts: [Int32: [String: UInt64]] = [:]
    public var cost: SamplerCost

    public init(monotonicNs: UInt64, realtimeNs: UInt64, cpuTicks: [Int?: [UInt64]] = [:],
                threads: ThreadCounterTable = [:], cgroups: [Int32: CgroupCounters] = [:],
                interrupts: InterruptCounts = InterruptCounts(), debugfsExits: [Int32: UInt64] = [:],
                cost: SamplerCost = SamplerCost(cpuNs: 0, filesRead: 0, threadsSampled: 0)) {
        self.monotonicNs = monotonicNs
        self.realtimeNs = realtimeNs
        self.cpuTicks = cpuTicks
        self.threads = threads
        self.cgroups = cgroups
        self.interrupts = interrupts
        self.debugfsExits = debugfsExits
        self.cost = cost
    }
}

/// Reads the host's counters each interval and keeps the VM list current. Discovery is
/// incremental, and on a steady host costs one stat and no listing:
/// - processes: /proc is listed again only when its link count moved (procfs gives 2 plus the
///   host's process count; a tree on disk, 2 plus its folders), or at least every
///   `processListingIntervalNs` (one process that exits as another starts leaves the count as it
///   was); a pid is classified once, its comm and command line read when first seen;
/// - threads: a VM's thread list is read again when its thread count moves or one of its threads
///   has gone. The count comes free with each vCPU's stat line (field 20 is the whole process's
///   count), so the list is read again within the sample that saw the change and its new threads are
///   read in that sample too; a VM none of whose stat lines gives a count (no vCPU recognised, a
///   recorded tree that leaves it 0) has its task folder's link count taken instead, one stat each.
/// Every counter file is one `pread`, its descriptor kept open between samples: the threads' files in
/// a flat plan walked in order (`ThreadFilePlan`), the VMs' and the host's in `OpenCounterFiles`,
/// all of them opened, read and closed on a thread of the sampler's own whose descriptor table no
/// other thread shares (`PrivateFileTableThread`: each read then skips a reference count on its file).
///
/// Not Sendable: one sampler belongs to one loop.
public final class LiveSampler {
    public let fs: HostFileSystem
    public let ticksPerSecond: UInt64
    public private(set) var vms: [DiscoveredVM] = [] {
        didSet { threadPlanIsCurrent = false }
    }
    /// Allowed CPUs per vCPU tid, read once when a thread is first seen (affinity rarely changes;
    /// a pinning tool that changes it later shows up through the last-CPU field meanwhile).
    public private(set) var affinity: [Int32: [Int]] = [:]
    public let exitRateSource: ExitRateSource
    /// What the analyzer should say about guest time on this host's KVM backend.
    public let backend: KVMBackend

    private let discovery: VMDiscovery
    private var mounts: [MountEntry]
    private var notVMs: Set<Int32> = []
    private var vhostOwner: [Int32: Int32] = [:]
    /// What the counter reader keeps between samples (its buffer, whether there are sched files).
    private var readerState = CounterReader.State.initial()
    /// For /proc/stat and /proc/interrupts, which outgrow 4 KiB on hosts with many CPUs.
    private var hostBuffer = [UInt8](repeating: 0, count: 64 << 10)
    private let files: OpenCounterFiles
    /// Every VM thread's counter files, in read order; rebuilt when `vms` changed.
    private let threadFiles: ThreadFilePlan
    private var threadPlanIsCurrent = false
    /// The link count of each VM's task folder when its threads were last listed, for the VMs whose
    /// stat lines give no thread count (`countlessVMs`).
    private var taskLinks: [Int32: UInt64] = [:]
    /// VMs whose last sample found no thread count in a vCPU's stat line, and new VMs: their task
    /// folder is stat'ed each sample instead.
    private var countlessVMs: Set<Int32> = []
    /// The /proc listing of the last sample: when it has not changed, no process came or went.
    private var lastPIDs: [Int32] = []
    /// The link count of /proc when it was last listed, and when (CLOCK_MONOTONIC ns).
    private var procLinks: UInt64?
    private var processesListedNs: UInt64 = 0
    /// The longest time between two listings of /proc while its link count stays put: a process that
    /// exits in the interval another (a new VM) starts in leaves the count as it was, so a new VM is
    /// found within this long even then.
    public var processListingIntervalNs: UInt64 = 5_000_000_000
    /// VMs one of whose threads could not be read in the last sample: their threads are listed again.
    private var threadsGone: Set<Int32> = []
    private var debugfsDirs: [Int32: String] = [:]
    /// The per-reason exit counters this kernel's KVM debugfs has (of `debugfsExitReasons`).
    private let debugfsReasons: [String]
    /// kvm tracepoint counters per vCPU thread, when debugfs is not readable and perf allows them.
    public private(set) var exitCounters: KVMTracepointCounters?
    private var filesRead = 0
    /// Where `files` and `threadFiles` are opened, read and closed.
    private let readingThread = PrivateFileTableThread(name: "hvtax-sampler")
    /// Whether the counter files are read through a descriptor table no other thread shares, and
    /// if not, why not (the kernel refused; the sampler works the same, each read a little dearer).
    public var readsThroughPrivateFileTable: Bool { readingThread.isPrivate }
    public var whyFileTableShared: String? { readingThread.whyShared }
    /// The reading thread's CPU time when its last sample ended.
    private var readingThreadCPUMark: UInt64?
    /// The reading thread's tid (0: none could be started, and the caller's thread reads).
    var readingThreadID: Int32 { readingThread.tid }
    /// Counter files held open between samples (one per file read each interval on a steady host).
    public var openFileCount: Int { files.openCount + threadFiles.openCount }
    /// Also read each VMM process's own /proc/PID/stat (what virDomainGetInfo reports): one more
    /// file per VM, needed only to validate accounting.
    public var readsProcessTotals = false

    public init(fs: HostFileSystem, ticksPerSecond: UInt64 = LiveSampler.systemTicksPerSecond(), exitRates: ExitRateChoice = .auto) {
        self.fs = fs
        self.ticksPerSecond = ticksPerSecond
        self.discovery = VMDiscovery(fs: fs)
        self.files = OpenCounterFiles(fs: fs)
        self.threadFiles = ThreadFilePlan(fs: fs)
        self.mounts = (try? Procfs(fs).mounts()) ?? []
        let procfs = Procfs(fs)
        let flags = (try? procfs.cpuInfo())?.flags ?? []
        let modules = try? procfs.loadedModules()
        let sysfs = Sysfs(fs)
        backend = KVMBackend.detect(cpuFlags: flags) { sysfs.moduleState($0, loadedModules: modules ?? nil) }
        (exitRateSource, debugfsDirs, debugfsReasons, exitCounters) = Self.probeExitSource(fs, backend: backend, mounts: mounts, choice: exitRates)
    }

    deinit {
        // The counter files are in the reading thread's table: closed there, where their numbers
        // mean them, before the thread ends.
        let (files, threadFiles) = (self.files, self.threadFiles)
        readingThread.run {
            files.closeAll()
            threadFiles.closeAll()
        }
    }

    /// CLK_TCK, the unit of /proc/PID/stat times (USER_HZ, 100 almost everywhere).
    public static func systemTicksPerSecond() -> UInt64 {
        let value = sysconf(Int32(_SC_CLK_TCK))
        return value > 0 ? UInt64(value) : 100
    }

    /// Re-discovers what changed, then reads every counter: on the reading thread, where every
    /// counter file is opened, read and closed, then the exit counters here.
    public func sample() throws(HostError) -> HostSample {
        let cpuStart = Self.threadCPUNs()
        var sample = try readingThread.run { () throws(HostError) -> HostSample in try readCounters() }
        if let exitCounters {
            exitCounters.track(vms)
            sample.exitCounts = exitCounters.read()
        }
        // The reading thread counted its own CPU time; this thread's is the hand-over and the exit
        // counters. Without a reading thread `readCounters` ran here, so this thread's is all of it.
        let here = Self.threadCPUNs() &- cpuStart
        sample.cost.cpuNs = readingThread.tid != 0 ? sample.cost.cpuNs &+ here : here
        return sample
    }

    private func readCounters() throws(HostError) -> HostSample {
        let cpuStart = Self.threadCPUNs()
        filesRead = 0
        let opensBefore = files.opens + threadFiles.opens
        try refresh(now: Self.clockNs(CLOCK_MONOTONIC))
        var sample = HostSample(monotonicNs: Self.clockNs(CLOCK_MONOTONIC), realtimeNs: Self.clockNs(CLOCK_REALTIME))
        if let n = try? files.readAll(.init(owner: 0, file: .hostStat), path: "/proc/stat", into: &hostBuffer) {
            filesRead += 1
            sample.cpuTicks = ProcParse.procStat(hostBuffer[0..<n])
        }
        if let n = try? files.readAll(.init(owner: 0, file: .hostInterrupts), path: "/proc/interrupts", into: &hostBuffer) {
            filesRead += 1
            sample.interrupts = InterruptCounts.parse(hostBuffer[0..<n])
        }
        updateThreadPlan()
        sample.threads.reserveCapacity(threadFiles.entries.count)
        sample.cgroups.reserveCapacity(vms.count)
        // The reader is taken out of self for the loop: its buffer and counts are then a local's,
        // with no dynamic exclusivity check on each of the ~3,000 reads.
        var reader = CounterReader(files: files, threadFiles: threadFiles, ticksPerSecond: ticksPerSecond)
        swap(&reader.state, &readerState)
        defer { swap(&reader.state, &readerState) }
        // VMs whose thread count (from a vCPU's stat line) is not the number of threads listed.
        var recount: [Int] = []
        // The threads read in place through buffer pointers, one flat array front to back; the VMs
        // borrowed the same way (iterating the arrays copied every value, its names retained and
        // released).
        let readsDebugfs = !debugfsDirs.isEmpty
        let vmStarts = threadFiles.vmStarts
        vms.withUnsafeBufferPointer { vms in
            threadFiles.entries.withUnsafeMutableBufferPointer { threads in
                for vmIndex in vms.indices {
                    let pid = vms[vmIndex].pid
                    var listed: UInt64 = 0
                    var counted: UInt64 = 0
                    for index in vmStarts[vmIndex]..<vmStarts[vmIndex + 1] {
                        if threads[index].pid == pid { listed += 1 }
                        if let counters = reader.read(&threads[index]) {
                            sample.threads.append(threads[index].tid, counters)
                            if counted == 0 { counted = counters.processThreads }
                        } else {
                            threadsGone.insert(pid)
                        }
                    }
                    if counted == 0 {
                        countlessVMs.insert(pid)
                    } else {
                        if !countlessVMs.isEmpty { countlessVMs.remove(pid) }
                        if counted != listed { recount.append(vmIndex) }
                    }
                    if let cgroup = vms[vmIndex].cgroup, let counters = reader.read(cgroup, of: pid) { sample.cgroups[pid] = counters }
                    if readsProcessTotals, let counters = reader.readProcess(pid) { sample.processes[pid] = counters }
                    if readsDebugfs, let dir = debugfsDirs[pid] {
                        let (total, byReason) = reader.readDebugfsExits(dir, of: pid, reasons: debugfsReasons)
                        if let total { sample.debugfsExits[pid] = total }
                        if !byReason.isEmpty { sample.exitCounts[pid] = byReason }
                    }
                }
            }
        }
        // A VM's threads changed: list them again now, read the new ones in this sample and drop
        // the ones gone (a tree on disk still reads a deleted file through its open descriptor).
        if !recount.isEmpty {
            for index in recount {
                let before = vms[index].threads.map(\.tid)
                relist(index)
                threadsGone.remove(vms[index].pid)
                let now = Set(vms[index].threads.map(\.tid))
                for tid in before where !now.contains(tid) { sample.threads[tid] = nil }
            }
            updateThreadPlan()
            threadFiles.entries.withUnsafeMutableBufferPointer { threads in
                for index in recount {
                    for entry in threadFiles.vmStarts[index]..<threadFiles.vmStarts[index + 1] where sample.threads[threads[entry].tid] == nil {
                        if let counters = reader.read(&threads[entry]) { sample.threads[threads[entry].tid] = counters }
                    }
                }
            }
            threadsDidChange()
        }
        filesRead += reader.state.filesRead
        reader.state.endSample()
        files.endSample()
        // On the reading thread, all it spent since its last sample ended is this sample's (waking
        // for it, handing the last one back), so none of its time goes unreported.
        let cpuEnd = Self.threadCPUNs()
        let onReadingThread = readingThread.tid != 0
        let spent = cpuEnd &- (onReadingThread ? readingThreadCPUMark ?? cpuStart : cpuStart)
        if onReadingThread { readingThreadCPUMark = cpuEnd }
        sample.cost = SamplerCost(cpuNs: spent, filesRead: filesRead,
                                  filesOpened: files.opens + threadFiles.opens - opensBefore,
                                  threadsSampled: sample.threads.count)
        return sample
    }

    /// Rebuilds the thread plan when `vms` changed since it was last built.
    private func updateThreadPlan() {
        guard !threadPlanIsCurrent else { return }
        threadFiles.rebuild(vms)
        threadPlanIsCurrent = true
    }

    // MARK: Discovery, incrementally

    private func refresh(now: UInt64) throws(HostError) {
        var processesChanged = false
        // /proc is listed when its link count moved since the last listing, the last listing is
        // `processListingIntervalNs` old, or the tree's filesystem does not count folders in the
        // link count (btrfs gives a folder 1). The count is kept only once a listing succeeded, so
        // a listing that failed is tried again at the next sample.
        let links = try files.linkCount(.init(owner: 0, file: .procFolder), path: "/proc")
        filesRead += 1
        if links != procLinks || links < 2 || now &- processesListedNs >= processListingIntervalNs {
            let pids = try fs.numericEntries("/proc")
            filesRead += 1
            (procLinks, processesListedNs) = (links, now)
            // The same processes as last time (the common case): nothing to classify or forget.
            processesChanged = pids != lastPIDs
            if processesChanged { lastPIDs = pids }
        }
        var vhostChanged = false
        var threadsChanged = processesChanged
        if processesChanged {
            vhostChanged = classify(lastPIDs)
        }
        // A VM gets its PID-FD folder in KVM's debugfs when it creates its KVM VM, which may be after
        // it was first seen: list the folder again while a VM has none.
        if exitRateSource.kind == .debugfs && (processesChanged || vms.contains { debugfsDirs[$0.pid] == nil }) {
            debugfsDirs = Self.debugfsFolders((try? fs.list(Self.kvmDebugfs)) ?? [])
        }
        // Threads come and go (vCPU hotplug, QEMU's worker pool): re-read names only on change. A
        // thread that exited while another started keeps the count; its failed read marked the VM.
        // VMs whose stat lines count their threads were checked by the last sample's reads.
        if !countlessVMs.isEmpty || !threadsGone.isEmpty {
            for index in vms.indices {
                let pid = vms[index].pid
                let gone = threadsGone.contains(pid)
                guard gone || countlessVMs.contains(pid) else { continue }
                let links = try? files.linkCount(.init(owner: pid, file: .taskFolder), path: "/proc/\(pid)/task")
                filesRead += 1
                if let links, taskLinks[pid] == links, !gone { continue }
                taskLinks[pid] = links
                threadsChanged = true
                relist(index)
            }
            threadsGone.removeAll()
        }
        if vhostChanged {
            for index in vms.indices {
                let pid = vms[index].pid
                let vhost = vhostOwner.filter { $0.value == pid }.keys.sorted().compactMap { tid -> DiscoveredThread? in
                    guard let name = try? fs.readValue("/proc/\(tid)/comm") else { return nil }
                    return DiscoveredThread(tid: tid, pid: tid, name: name, role: .vhost, vcpu: nil)
                }
                vms[index].threads = vms[index].threads.filter { $0.pid == pid } + vhost
            }
        }
        guard threadsChanged || vhostChanged else { return }
        vms.sort { $0.pid < $1.pid }
        threadsDidChange()
    }

    /// Forgets the affinity of threads no VM has any more.
    private func threadsDidChange() {
        let threadIDs = Set(vms.flatMap { $0.threads.map(\.tid) })
        affinity = affinity.filter { threadIDs.contains($0.key) }
    }

    /// Forgets processes that are gone and classifies new ones (VM, vhost worker, or neither).
    /// Returns whether vhost workers changed.
    private func classify(_ pids: [Int32]) -> Bool {
        let alive = Set(pids)
        vms.removeAll { !alive.contains($0.pid) }
        notVMs.formIntersection(alive)
        vhostOwner = vhostOwner.filter { alive.contains($0.key) }
        taskLinks = taskLinks.filter { alive.contains($0.key) }
        countlessVMs.formIntersection(alive)
        let known = Set(vms.map(\.pid))
        var vhostChanged = false
        for pid in pids where !known.contains(pid) && !notVMs.contains(pid) && vhostOwner[pid] == nil {
            guard let comm = try? fs.readValue("/proc/\(pid)/comm") else { continue }
            filesRead += 1
            if let owner = VMDiscovery.vhostOwner(comm) {
                vhostOwner[pid] = owner
                vhostChanged = true
            } else if let vm = discovery.identify(pid: pid, comm: comm, mounts: mounts) {
                vms.append(vm)
                // Its task folder is stat'ed until a sample finds its thread count in a stat line.
                countlessVMs.insert(pid)
                vhostChanged = true
                for thread in vm.threads where thread.role == .vcpu { readAffinity(thread) }
            } else {
                notVMs.insert(pid)
            }
        }
        return vhostChanged
    }

    /// Lists a VM's threads again; a VM first seen while starting is identified again.
    private func relist(_ index: Int) {
        let pid = vms[index].pid
        guard let tids = try? fs.list("/proc/\(pid)/task") else { return }
        filesRead += 1
        let own = vms[index].threads.filter { $0.pid == pid }.map { String($0.tid) }.sorted()
        guard own != tids else { return }
        let vhost = vms[index].threads.filter { $0.pid != pid }
        // Identify again: a process first seen while it was still starting (its command line not
        // yet final, no vCPU threads yet) would otherwise keep that first, partial identity.
        if let comm = try? fs.readValue("/proc/\(pid)/comm"), let again = discovery.identify(pid: pid, comm: comm, mounts: mounts) {
            // Its cgroup may have changed too (a VM moved into its own scope after it started).
            if again.cgroup != vms[index].cgroup { files.forget(owner: pid, [.cgroupStat, .cgroupUsage, .cgroupUserSystem]) }
            vms[index] = again
            vms[index].threads = again.threads.filter { $0.pid == pid } + vhost
            filesRead += 1
        } else if let threads = try? discovery.threads(of: pid) {
            vms[index].threads = threads + vhost
        }
        for thread in vms[index].threads where thread.role == .vcpu && affinity[thread.tid] == nil { readAffinity(thread) }
    }

    private func readAffinity(_ thread: DiscoveredThread) {
        if let text = try? fs.readText(thread.procPath + "/status") {
            filesRead += 1
            affinity[thread.tid] = ProcParse.allowedCPUs(status: text)
        }
    }

    // MARK: Exit counts

    /// debugfs per-VM folders (`PID-FD`) when readable; otherwise kvm tracepoint counters through
    /// perf_event_open (live host only); otherwise the reason none is used, from what was really
    /// tried, so an absent exit rate is never shown as zero. `choice` confines it to one source or none.
    static func probeExitSource(_ fs: HostFileSystem, backend: KVMBackend, mounts: [MountEntry], choice: ExitRateChoice = .auto)
        -> (ExitRateSource, [Int32: String], [String], KVMTracepointCounters?)
    {
        if choice == .off {
            return (ExitRateSource(kind: .none, detail: "off as asked (--exit-rates off, or exit_rates: off for hvtax serve): neither KVM debugfs nor kvm tracepoint counters read"), [:], [], nil)
        }
        var reasons: [String] = []
        if !choice.triesDebugfs {
            reasons.append("debugfs not tried (exit rates asked from \(choice.rawValue) only)")
        } else {
            switch debugfsSource(fs) {
            case .success(let found): return (found.source, found.folders, found.reasons, nil)
            case .failure(let unusable): reasons.append(unusable.reason)
            }
        }
        if !choice.triesTracepoints {
            reasons.append("kvm tracepoint counters not tried (exit rates asked from \(choice.rawValue) only)")
        } else if !fs.isLiveRoot {
            reasons.append("kvm tracepoint counters only on the live host (root is \(fs.root))")
        } else if let tracefs = Tracefs.locate(fs: fs, mounts: mounts) {
            do throws(HostError) {
                let counters = try KVMTracepointCounters(fs: fs, tracefs: tracefs, backend: backend)
                let events = counters.specs.filter { $0.filter == nil }.map { spec in
                    let split = counters.specs.filter { $0.event == spec.event && $0.filter != nil }.count
                    return split > 0 ? "\(spec.event) (+\(split) by reason)" : spec.event
                }
                var detail = "kvm tracepoint counters (perf_event_open, counting mode, one group per vCPU thread): "
                    + events.joined(separator: ", ")
                let notCounted = counters.skipped.filter { $0.hasPrefix("kvm_exit") }
                if !notCounted.isEmpty { detail += "; not counted: " + notCounted.joined(separator: "; ") }
                detail += "; debugfs not used: " + reasons.joined(separator: "; ")
                return (ExitRateSource(kind: .tracepointCounters, detail: detail), [:], [], counters)
            } catch {
                reasons.append("kvm tracepoint counters unavailable (\(error))")
            }
        } else {
            reasons.append("tracefs not mounted (\(Tracefs.mountCommand)), so no kvm tracepoint counters")
        }
        switch backend {
        case .paravirtual(let module):
            reasons.append("kvm_exit does not fire (paravirtual KVM \(module) bypasses it)")
        case .none:
            reasons.append("no KVM backend on this host")
        case .intelVMX, .amdSVM:
            break
        }
        return (ExitRateSource(kind: .none, detail: "none available: " + reasons.joined(separator: "; ")), [:], [], nil)
    }

    /// Why KVM's debugfs cannot give exit rates, in the words of the snapshot's detail.
    struct DebugfsUnusable: Error { var reason: String }

    /// KVM's debugfs per-VM folders and reasons when its counters are readable.
    static func debugfsSource(_ fs: HostFileSystem)
        -> Result<(source: ExitRateSource, folders: [Int32: String], reasons: [String]), DebugfsUnusable>
    {
        let kvmDir = kvmDebugfs
        do throws(HostError) {
            let entries = try fs.list(kvmDir)
            do throws(HostError) {
                _ = try fs.read(kvmDir + "/exits", limit: 64)
            } catch {
                let cause = error.errno == EPERM ? "EPERM" : error.errno == EACCES ? "EACCES" : "unreadable"
                return .failure(DebugfsUnusable(reason: "debugfs \(cause) (\(error))"))
            }
            let reasons = debugfsExitReasons.filter { entries.contains($0) }
            let detail = "KVM debugfs per-VM counters (\(kvmDir)/PID-FD/exits"
                + (reasons.isEmpty ? ")" : "; by reason: " + reasons.joined(separator: ", ") + ")")
            return .success((ExitRateSource(kind: .debugfs, detail: detail), debugfsFolders(entries), reasons))
        } catch {
            return .failure(DebugfsUnusable(reason: error.isNotFound ? "debugfs not mounted or no KVM folder (\(kvmDir) absent)" : "debugfs (\(error))"))
        }
    }

    static let kvmDebugfs = "/sys/kernel/debug/kvm"

    /// KVM's x86 per-VM debugfs counters that count exits of one kind or the work of one exit path
    /// (the stats descriptors of arch/x86/kvm/x86.c, as kvm_stat shows them); `exits` is the total.
    static let debugfsExitReasons = [
        "io_exits", "mmio_exits", "halt_exits", "irq_exits", "irq_window_exits", "nmi_window_exits", "signal_exits",
        "request_irq_exits", "notify_window_exits", "hypercalls", "insn_emulation",
    ]

    /// The per-VM folders (`PID-FD`) of KVM's debugfs by VM pid.
    static func debugfsFolders(_ entries: [String]) -> [Int32: String] {
        var dirs: [Int32: String] = [:]
        for entry in entries {
            guard let dash = entry.firstIndex(of: "-"), let pid = Int32(entry[..<dash]) else { continue }
            dirs[pid] = kvmDebugfs + "/" + entry
        }
        return dirs
    }

    // MARK: Clocks

    static func clockNs(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// This thread's CPU time (user + system): the sampler's own cost.
    static func threadCPUNs() -> UInt64 { clockNs(CLOCK_THREAD_CPUTIME_ID) }
}
