/// One interval of the live host view (`hvtax snapshot`, `hvtax top`): per host CPU, per VM and
/// per vCPU, the deltas of every procfs and cgroup counter between two samples, turned into
/// rates and ratios. Times are nanoseconds of the interval; ratios are 0-1 of the interval's wall
/// time (a vCPU that ran the whole interval has on-CPU share 1; a VM's shares add its vCPUs, so a
/// VM of 4 busy vCPUs has 4).
public struct HostSnapshot: Codable, Sendable, Equatable {
    public static let schemaVersion = "hvtax.snapshot/1"

    public var schema: String = HostSnapshot.schemaVersion
    /// 1 for the first interval of a run.
    public var sequence: Int
    /// Wall time between the two samples (CLOCK_MONOTONIC), which the rates divide by.
    public var intervalNs: UInt64
    /// When the interval ended, CLOCK_REALTIME.
    public var endUnixNs: UInt64
    /// The root the host files were read under ("/" on the live host).
    public var root: String
    public var clockTicksPerSecond: UInt64
    public var hostCPUs: [HostCPUFigures]
    public var vms: [VMFigures]
    public var interrupts: InterruptFigures
    public var exitRates: ExitRateSource
    public var noisyNeighbours: [NoisyNeighbour]
    /// Accounting disagreements seen in this interval, in words, with their likely cause.
    public var findings: [SnapshotFinding]
    public var sampler: SamplerCost
    public var thresholds: Thresholds
    /// CPU frequency and thermal throttling over the interval (a confounder of every time above).
    public var throttling: HostThrottling?
    /// Findings ranked by the time they cost, from the advice rules (docs/advice.md).
    public var advice: Advice?

    public init(sequence: Int, intervalNs: UInt64, endUnixNs: UInt64, root: String, clockTicksPerSecond: UInt64,
                hostCPUs: [HostCPUFigures], vms: [VMFigures], interrupts: InterruptFigures, exitRates: ExitRateSource,
                noisyNeighbours: [NoisyNeighbour], findings: [SnapshotFinding], sampler: SamplerCost,
                thresholds: Thresholds) {
        self.sequence = sequence
        self.intervalNs = intervalNs
        self.endUnixNs = endUnixNs
        self.root = root
        self.clockTicksPerSecond = clockTicksPerSecond
        self.hostCPUs = hostCPUs
        self.vms = vms
        self.interrupts = interrupts
        self.exitRates = exitRates
        self.noisyNeighbours = noisyNeighbours
        self.findings = findings
        self.sampler = sampler
        self.thresholds = thresholds
    }
}

/// Which VMM runs a VM, as discovery recognised it.
public enum VMMKind: String, Codable, Sendable, CaseIterable {
    case qemu
    /// QEMU started by libvirt (its cgroup is under machine.slice, or its command line names libvirt).
    case libvirt
    case firecracker
    case cloudHypervisor = "cloud-hypervisor"
    case crosvm
    /// `hvtax workload`, the calibrated load of issue #4.
    case hvtaxWorkload = "hvtax-workload"
}

/// What a thread of a VMM process does, from its name.
public enum ThreadRole: String, Codable, Sendable {
    case vcpu
    /// The main loop and every other VMM thread: device emulation, monitor, migration.
    case emulator
    /// I/O threads (`IO iothread0`, `iothread`, `IO mon_iothread`, block/net workers).
    case io
    /// `vhost-PID` kernel threads that move virtio data for the VM outside its process.
    case vhost
}

/// One host CPU's /proc/stat line, as shares of the interval (ticks are converted with CLK_TCK).
public struct HostCPUFigures: Codable, Sendable, Equatable {
    /// nil for the aggregate `cpu` line.
    public var cpu: Int?
    public var user: Double
    public var system: Double
    public var idle: Double
    public var iowait: Double
    public var irq: Double
    public var softirq: Double
    /// Time this host, itself a guest, was not run by its hypervisor.
    public var steal: Double
    /// Time spent running guests, already inside `user` (the kernel adds it to both).
    public var guest: Double

    public init(cpu: Int?, user: Double, system: Double, idle: Double, iowait: Double, irq: Double, softirq: Double,
                steal: Double, guest: Double) {
        self.cpu = cpu
        self.user = user
        self.system = system
        self.idle = idle
        self.iowait = iowait
        self.irq = irq
        self.softirq = softirq
        self.steal = steal
        self.guest = guest
    }
}

/// One vCPU thread over the interval.
public struct VCPUFigures: Codable, Sendable, Equatable {
    public var vcpu: Int
    public var tid: Int32
    public var thread: String
    /// schedstat field 1: precise time on a CPU.
    public var onCPUNs: UInt64
    /// schedstat field 2: runnable but waiting for a CPU, the steal the guest sees.
    public var runDelayNs: UInt64
    /// stat utime, stime, guest_time (tick sampled, converted to ns; utime includes guest_time).
    public var userNs: UInt64
    public var systemNs: UInt64
    public var guestNs: UInt64
    public var voluntarySwitches: UInt64
    public var involuntarySwitches: UInt64
    /// se.nr_migrations from /proc/.../sched; nil where the kernel does not expose it.
    public var migrations: UInt64?
    /// The CPU it last ran on (stat field 39).
    public var lastCPU: Int
    public var onCPU: Double
    public var steal: RatedRatio

    public init(vcpu: Int, tid: Int32, thread: String, onCPUNs: UInt64, runDelayNs: UInt64, userNs: UInt64,
                systemNs: UInt64, guestNs: UInt64, voluntarySwitches: UInt64, involuntarySwitches: UInt64,
                migrations: UInt64?, lastCPU: Int, onCPU: Double, steal: RatedRatio) {
        self.vcpu = vcpu
        self.tid = tid
        self.thread = thread
        self.onCPUNs = onCPUNs
        self.runDelayNs = runDelayNs
        self.userNs = userNs
        self.systemNs = systemNs
        self.guestNs = guestNs
        self.voluntarySwitches = voluntarySwitches
        self.involuntarySwitches = involuntarySwitches
        self.migrations = migrations
        self.lastCPU = lastCPU
        self.onCPU = onCPU
        self.steal = steal
    }
}

/// The VMM's own threads of one role (emulator, I/O, vhost) over the interval: host-side overhead.
public struct ThreadGroupFigures: Codable, Sendable, Equatable {
    public var threads: Int
    public var onCPUNs: UInt64
    public var runDelayNs: UInt64

    public init(threads: Int = 0, onCPUNs: UInt64 = 0, runDelayNs: UInt64 = 0) {
        self.threads = threads
        self.onCPUNs = onCPUNs
        self.runDelayNs = runDelayNs
    }
}

/// The VM's cgroup over the interval: every thread in it, vCPUs, emulator, I/O (vhost threads too
/// when libvirt moved them in).
public struct CgroupFigures: Codable, Sendable, Equatable {
    public enum Version: String, Codable, Sendable { case v1, v2 }
    public var version: Version
    /// The cgroup as /proc/PID/cgroup names it, e.g. `/machine.slice/machine-qemu\x2d1\x2dweb01.scope`.
    public var path: String
    /// cpuacct.usage (v1) or usage_usec x 1000 (v2): precise.
    public var usageNs: UInt64
    /// cpuacct.stat (USER_HZ, converted) or user_usec/system_usec: tick sampled on older kernels.
    public var userNs: UInt64
    public var systemNs: UInt64

    public init(version: Version, path: String, usageNs: UInt64, userNs: UInt64, systemNs: UInt64) {
        self.version = version
        self.path = path
        self.usageNs = usageNs
        self.userNs = userNs
        self.systemNs = systemNs
    }
}

public struct VMFigures: Codable, Sendable, Equatable {
    public var name: String
    public var pid: Int32
    public var kind: VMMKind
    public var uuid: String?
    public var vcpus: [VCPUFigures]
    public var emulator: ThreadGroupFigures
    public var io: ThreadGroupFigures
    public var vhost: ThreadGroupFigures
    public var cgroup: CgroupFigures?
    /// Σ vCPU on-CPU / interval: CPUs' worth of demand served.
    public var vcpuOnCPU: Double
    /// (emulator + I/O + vhost on-CPU) / (those + vCPU on-CPU): the VMM's share of the VM's CPU.
    public var vmmOverhead: RatedRatio
    /// Σ run delay / (interval × vCPUs): the mean steal of its vCPUs.
    public var steal: RatedRatio
    /// The highest vCPU steal level, so one starved vCPU colours its VM.
    public var worstVCPUSteal: Level
    /// Exits per second where a source allows (see `HostSnapshot.exitRates`); nil otherwise, and
    /// nil with tracepoint counters where kvm_exit does not fire (then `exitReasons` has what does).
    public var exitsPerSecond: Double?
    /// Per reason, highest first: from kvm tracepoint counters, or from KVM debugfs's per-VM
    /// counters by kind (`io_exits`, `halt_exits`, ...); empty when neither is available.
    public var exitReasons: [ExitReasonRate] = []
    /// Host CPUs its vCPUs ran on or may run on (last CPU and affinity).
    public var cpus: [Int]

    public init(name: String, pid: Int32, kind: VMMKind, uuid: String?, vcpus: [VCPUFigures],
                emulator: ThreadGroupFigures, io: ThreadGroupFigures, vhost: ThreadGroupFigures, cgroup: CgroupFigures?,
                vcpuOnCPU: Double, vmmOverhead: RatedRatio, steal: RatedRatio, worstVCPUSteal: Level,
                exitsPerSecond: Double?, cpus: [Int]) {
        self.name = name
        self.pid = pid
        self.kind = kind
        self.uuid = uuid
        self.vcpus = vcpus
        self.emulator = emulator
        self.io = io
        self.vhost = vhost
        self.cgroup = cgroup
        self.vcpuOnCPU = vcpuOnCPU
        self.vmmOverhead = vmmOverhead
        self.steal = steal
        self.worstVCPUSteal = worstVCPUSteal
        self.exitsPerSecond = exitsPerSecond
        self.cpus = cpus
    }
}

/// One counted kvm tracepoint (or one reason of it) over the interval.
public struct ExitReasonRate: Codable, Sendable, Equatable {
    /// `kvm_pio`, `kvm_userspace_exit:IO`, `kvm_exit:EPT_VIOLATION`.
    public var reason: String
    public var count: UInt64
    public var perSecond: Double

    public init(reason: String, count: UInt64, perSecond: Double) {
        self.reason = reason
        self.count = count
        self.perSecond = perSecond
    }
}

/// Where exit counts came from, and, when from nowhere, why, so that an absent figure is never
/// mistaken for zero exits.
public struct ExitRateSource: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// /sys/kernel/debug/kvm/PID-FD/exits, per VM.
        case debugfs
        /// kvm tracepoints counted per vCPU thread through perf_event_open (kvm_stat's way, no ring
        /// buffer), by reason; exits in total only where kvm_exit fires.
        case tracepointCounters = "tracepoint-counters"
        case none
    }

    public var kind: Kind
    /// "none available: debugfs EPERM, kvm_exit does not fire", with the paths and errors behind it.
    public var detail: String

    public init(kind: Kind, detail: String) {
        self.kind = kind
        self.detail = detail
    }
}

public struct InterruptRate: Codable, Sendable, Equatable {
    /// `36`, `LOC`, `RES`.
    public var irq: String
    /// The device or description: `virtio1-req.0`, `Local timer interrupts`.
    public var device: String
    public var perSecond: Double
    /// Per CPU, indexed by CPU number.
    public var perCPUPerSecond: [Double]

    public init(irq: String, device: String, perSecond: Double, perCPUPerSecond: [Double]) {
        self.irq = irq
        self.device = device
        self.perSecond = perSecond
        self.perCPUPerSecond = perCPUPerSecond
    }
}

public struct InterruptStorm: Codable, Sendable, Equatable {
    public enum Cause: String, Codable, Sendable {
        /// Far above the IRQ's own running baseline.
        case aboveBaseline = "above-baseline"
        /// A device interrupt landing at a high rate on CPUs where vCPUs run.
        case onVCPUCPUs = "on-vcpu-cpus"
    }

    public var irq: String
    public var device: String
    public var cause: Cause
    public var perSecond: Double
    public var baselinePerSecond: Double?
    public var cpus: [Int]
    public var detail: String

    public init(irq: String, device: String, cause: Cause, perSecond: Double, baselinePerSecond: Double?, cpus: [Int],
                detail: String) {
        self.irq = irq
        self.device = device
        self.cause = cause
        self.perSecond = perSecond
        self.baselinePerSecond = baselinePerSecond
        self.cpus = cpus
        self.detail = detail
    }
}

public struct InterruptFigures: Codable, Sendable, Equatable {
    public var totalPerSecond: Double
    /// The busiest IRQs of the interval, highest first.
    public var top: [InterruptRate]
    public var storms: [InterruptStorm]

    public init(totalPerSecond: Double = 0, top: [InterruptRate] = [], storms: [InterruptStorm] = []) {
        self.totalPerSecond = totalPerSecond
        self.top = top
        self.storms = storms
    }
}

/// A VM whose steal rose while another VM's demand on the same CPUs rose.
public struct NoisyNeighbour: Codable, Sendable, Equatable {
    public var victim: String
    public var neighbour: String
    public var victimStealBefore: Double
    public var victimStealNow: Double
    /// CPUs' worth of on-CPU time of the neighbour's vCPUs, before and now.
    public var neighbourDemandBefore: Double
    public var neighbourDemandNow: Double
    public var sharedCPUs: [Int]
    public var detail: String

    public init(victim: String, neighbour: String, victimStealBefore: Double, victimStealNow: Double,
                neighbourDemandBefore: Double, neighbourDemandNow: Double, sharedCPUs: [Int], detail: String) {
        self.victim = victim
        self.neighbour = neighbour
        self.victimStealBefore = victimStealBefore
        self.victimStealNow = victimStealNow
        self.neighbourDemandBefore = neighbourDemandBefore
        self.neighbourDemandNow = neighbourDemandNow
        self.sharedCPUs = sharedCPUs
        self.detail = detail
    }
}

public struct SnapshotFinding: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// vCPU threads ran by schedstat, guest_time did not move: guest code ran as host kernel time.
        case guestTimeMissing = "guest-time-missing"
        /// stat's utime+stime far below schedstat's on-CPU time: tick sampling missed it.
        case tickAccountingMissing = "tick-accounting-missing"
        /// A `--vm` that selects none of the VMs on the host (a typo, or a VM not running).
        case filterMatchesNothing = "filter-matches-nothing"
    }

    public var kind: Kind
    public var vm: String?
    public var detail: String

    public init(kind: Kind, vm: String?, detail: String) {
        self.kind = kind
        self.vm = vm
        self.detail = detail
    }
}

/// What taking the two samples cost this process, so the sampler's own tax is visible.
public struct SamplerCost: Codable, Sendable, Equatable {
    /// CPU time (user + system, CLOCK_THREAD_CPUTIME_ID) spent taking the sample that ended the interval.
    public var cpuNs: UInt64
    public var filesRead: Int
    /// Of those, how many had to be opened: the sampler keeps counter files open between samples,
    /// so on a steady host this is 0 after the first sample. nil in snapshots from before it existed.
    public var filesOpened: Int?
    public var threadsSampled: Int

    public init(cpuNs: UInt64, filesRead: Int, filesOpened: Int? = nil, threadsSampled: Int) {
        self.cpuNs = cpuNs
        self.filesRead = filesRead
        self.filesOpened = filesOpened
        self.threadsSampled = threadsSampled
    }
}
