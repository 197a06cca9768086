/// `hvtax validate`: every CPU-accounting source of a KVM host side by side over one interval, each
/// checked against the figure it should agree with, every disagreement above tolerance explained,
/// and a verdict per source: can it be trusted on this host. See docs/validate.md.
///
/// The discrepancy ratio of a comparison is |source − reference| / reference over the interval
/// (0: they agree exactly; 1: the source saw nothing of what the reference saw, or twice as much).
/// It is nil when the source is unavailable or the reference is below `minimumReferenceNs` (too
/// little happened for a tick-sampled figure to mean anything). `hvtax serve` exports it as
/// `hvtax_accounting_discrepancy_ratio{vm,source}` (host-wide comparisons with vm="").
public struct AccountingValidation: Codable, Sendable, Equatable {
    public static let schemaVersion = "hvtax.validation/1"

    public var schema: String = AccountingValidation.schemaVersion
    /// Wall time between the two samples (CLOCK_MONOTONIC).
    public var intervalNs: UInt64
    /// When the interval ended, CLOCK_REALTIME.
    public var endUnixNs: UInt64
    public var clockTicksPerSecond: UInt64
    public var environment: AccountingEnvironment
    public var tolerance: AccountingTolerance
    /// Host-wide comparisons (/proc/stat against the sum of the VMs).
    public var host: [AccountingComparison]
    public var vms: [VMAccounting]
    /// One verdict per source, over the host and every VM: trustworthy here or not, and why.
    public var verdicts: [SourceVerdict]
    /// Findings ranked by the time they cost, from the advice rules (docs/advice.md).
    public var advice: Advice?

    public init(intervalNs: UInt64, endUnixNs: UInt64, clockTicksPerSecond: UInt64, environment: AccountingEnvironment,
                tolerance: AccountingTolerance, host: [AccountingComparison], vms: [VMAccounting],
                verdicts: [SourceVerdict]) {
        self.intervalNs = intervalNs
        self.endUnixNs = endUnixNs
        self.clockTicksPerSecond = clockTicksPerSecond
        self.environment = environment
        self.tolerance = tolerance
        self.host = host
        self.vms = vms
        self.verdicts = verdicts
    }

    /// Every comparison, host-wide first, with the VM it belongs to (nil: host-wide).
    public var allComparisons: [(vm: String?, comparison: AccountingComparison)] {
        host.map { (nil, $0) } + vms.flatMap { vm in vm.comparisons.map { (vm.name, $0) } }
    }
}

/// The accounting sources of a KVM host (docs/sources.md, "CPU accounting sources"), each a
/// figure some tool reports.
public enum AccountingSource: String, Codable, Sendable, CaseIterable {
    /// /proc/PID/task/TID/schedstat field 1: precise on-CPU ns per thread. The reference.
    case schedstat
    /// Σ utime+stime of /proc/PID/task/TID/stat over the vCPU threads (top, libvirt vcpu.N.time).
    case threadStat = "thread-stat"
    /// guest_time of the vCPU threads' stat: time the kernel accounted as running guest code.
    case guestTime = "guest-time"
    /// utime+stime of /proc/PID/stat, the whole VMM process (virDomainGetInfo cpuTime).
    case processStat = "process-stat"
    /// The VM cgroup's precise usage: cpuacct.usage (v1) or usage_usec (v2); libvirt's cpu_time.
    case cgroupUsage = "cgroup-usage"
    /// The VM cgroup's user+system: cpuacct.stat (v1) or user_usec+system_usec (v2).
    case cgroupUserSystem = "cgroup-user-system"
    /// wait_sum of /proc/PID/task/TID/sched (CONFIG_SCHEDSTATS), libvirt's vcpu.N.wait.
    case schedWaitSum = "sched-wait-sum"
    /// The guest column of /proc/stat, host-wide.
    case procStatGuest = "proc-stat-guest"
    /// `virsh domstats --cpu-total`: cpu.time (= cpu-stats cpu_time).
    case libvirtCPUTime = "libvirt-cpu-time"
    /// `virsh domstats --cpu-total`: cpu.user + cpu.system (= cpu-stats user_time + system_time).
    case libvirtUserSystem = "libvirt-user-system"
    /// `virsh domstats --vcpu`: Σ vcpu.N.time.
    case libvirtVCPUTime = "libvirt-vcpu-time"
    /// `virsh domstats --vcpu`: Σ vcpu.N.delay (libvirt >= 7.2), the run-queue delay.
    case libvirtVCPUDelay = "libvirt-vcpu-delay"
    /// `virsh domstats --vcpu`: Σ vcpu.N.wait (wait_sum; libvirt's docs call it I/O wait, it is not).
    case libvirtVCPUWait = "libvirt-vcpu-wait"
}

/// Why two sources disagree, as far as hvtax can tell from the figures and the host.
public enum DiscrepancyCause: String, Codable, Sendable {
    /// A tick-sampled figure off by more than its tick allowance: few ticks landed, or they landed
    /// unevenly (short bursts between ticks are invisible to tick sampling).
    case tickSampling = "tick-sampling"
    /// cgroup user+system below usage by about the guest time: kernels before 9731698ecb9c did not
    /// add guest time to user time in non-root cgroups.
    case guestTimeMissingFromUser = "guest-time-missing-from-user"
    /// The cgroup holds more or fewer threads than the VM process (other processes, vhost workers,
    /// threads moved elsewhere).
    case cgroupScope = "cgroup-scope"
    /// Guest code emulated by the host kernel (a paravirtual KVM): the vCPUs' time is system time
    /// and guest_time never moves.
    case emulatedGuestAsSystem = "emulated-guest-as-system"
    /// The vCPUs ran but guest_time did not move, on a VT-x/AMD-V host.
    case guestTimeNotAccounted = "guest-time-not-accounted"
    /// No CONFIG_SCHEDSTATS (or kernel.sched_schedstats=0): wait_sum is absent or frozen.
    case missingSchedstats = "missing-schedstats"
    /// A VM's threads account guest time the host's /proc/stat does not have, or the reverse: VMs
    /// hvtax did not discover, or guests of other VMMs.
    case undiscoveredGuests = "undiscovered-guests"
    /// Two readings of the same kernel counter that should be identical are not (libvirt reading at
    /// a different instant, or a different cgroup).
    case differentReading = "different-reading"
    case unexplained
}

/// One check: a source against the figure it should match, over the interval.
public struct AccountingComparison: Codable, Sendable, Equatable {
    public var source: AccountingSource
    public var reference: AccountingSource
    /// "cgroup user+system vs cgroup usage".
    public var title: String
    /// nil when the source could not be read here (`explanation` says why).
    public var sourceNs: UInt64?
    public var referenceNs: UInt64
    /// The difference allowed before it counts as a disagreement: tick allowance + relative share + read skew.
    public var toleranceNs: UInt64
    /// |source − reference| / reference; see `AccountingValidation`.
    public var discrepancyRatio: Double?
    public var state: State
    public var cause: DiscrepancyCause?
    /// What the figures say, in words, with the likely cause when they disagree.
    public var explanation: String

    public enum State: String, Codable, Sendable {
        case agrees
        case disagrees
        /// Too little happened in the interval to judge (reference below the minimum).
        case notJudged = "not-judged"
        case unavailable
    }

    public init(source: AccountingSource, reference: AccountingSource, title: String, sourceNs: UInt64?, referenceNs: UInt64,
                toleranceNs: UInt64, discrepancyRatio: Double?, state: State, cause: DiscrepancyCause?, explanation: String) {
        self.source = source
        self.reference = reference
        self.title = title
        self.sourceNs = sourceNs
        self.referenceNs = referenceNs
        self.toleranceNs = toleranceNs
        self.discrepancyRatio = discrepancyRatio
        self.state = state
        self.cause = cause
        self.explanation = explanation
    }

    /// source − reference, ns (nil when the source is unavailable).
    public var deltaNs: Int64? { sourceNs.map { Int64(bitPattern: $0 &- referenceNs) } }
}

/// One VM: its figures from every source, then the comparisons.
public struct VMAccounting: Codable, Sendable, Equatable {
    public var name: String
    public var pid: Int32
    public var kind: VMMKind
    /// The figures side by side (ns over the interval); nil where the source is not available.
    public var figures: AccountingFigures
    public var vcpus: [VCPUAccounting]
    public var comparisons: [AccountingComparison]

    public init(name: String, pid: Int32, kind: VMMKind, figures: AccountingFigures, vcpus: [VCPUAccounting],
                comparisons: [AccountingComparison]) {
        self.name = name
        self.pid = pid
        self.kind = kind
        self.figures = figures
        self.vcpus = vcpus
        self.comparisons = comparisons
    }
}

/// A VM's CPU time by every source over the interval, ns.
public struct AccountingFigures: Codable, Sendable, Equatable {
    public var vcpuOnCPUNs: UInt64
    public var vcpuRunDelayNs: UInt64
    public var vcpuUserNs: UInt64
    public var vcpuSystemNs: UInt64
    public var vcpuGuestNs: UInt64
    /// Σ wait_sum of the vCPU threads; nil without CONFIG_SCHEDSTATS.
    public var vcpuWaitSumNs: UInt64?
    /// Emulator + I/O threads of the VMM process (schedstat).
    public var vmmThreadsOnCPUNs: UInt64
    /// vhost threads working for the VM (schedstat); they are other processes.
    public var vhostOnCPUNs: UInt64
    public var processUserSystemNs: UInt64?
    public var cgroupUsageNs: UInt64?
    public var cgroupUserNs: UInt64?
    public var cgroupSystemNs: UInt64?
    public var libvirt: LibvirtCPUFigures?

    public init(vcpuOnCPUNs: UInt64, vcpuRunDelayNs: UInt64, vcpuUserNs: UInt64, vcpuSystemNs: UInt64, vcpuGuestNs: UInt64,
                vcpuWaitSumNs: UInt64?, vmmThreadsOnCPUNs: UInt64, vhostOnCPUNs: UInt64, processUserSystemNs: UInt64?,
                cgroupUsageNs: UInt64?, cgroupUserNs: UInt64?, cgroupSystemNs: UInt64?, libvirt: LibvirtCPUFigures?) {
        self.vcpuOnCPUNs = vcpuOnCPUNs
        self.vcpuRunDelayNs = vcpuRunDelayNs
        self.vcpuUserNs = vcpuUserNs
        self.vcpuSystemNs = vcpuSystemNs
        self.vcpuGuestNs = vcpuGuestNs
        self.vcpuWaitSumNs = vcpuWaitSumNs
        self.vmmThreadsOnCPUNs = vmmThreadsOnCPUNs
        self.vhostOnCPUNs = vhostOnCPUNs
        self.processUserSystemNs = processUserSystemNs
        self.cgroupUsageNs = cgroupUsageNs
        self.cgroupUserNs = cgroupUserNs
        self.cgroupSystemNs = cgroupSystemNs
        self.libvirt = libvirt
    }
}

/// libvirt's own figures for a domain over the interval (deltas of `virsh domstats`), ns.
public struct LibvirtCPUFigures: Codable, Sendable, Equatable {
    public var cpuTimeNs: UInt64?
    public var userNs: UInt64?
    public var systemNs: UInt64?
    public var vcpuTimeNs: UInt64?
    public var vcpuWaitNs: UInt64?
    public var vcpuDelayNs: UInt64?

    public init(cpuTimeNs: UInt64? = nil, userNs: UInt64? = nil, systemNs: UInt64? = nil, vcpuTimeNs: UInt64? = nil,
                vcpuWaitNs: UInt64? = nil, vcpuDelayNs: UInt64? = nil) {
        self.cpuTimeNs = cpuTimeNs
        self.userNs = userNs
        self.systemNs = systemNs
        self.vcpuTimeNs = vcpuTimeNs
        self.vcpuWaitNs = vcpuWaitNs
        self.vcpuDelayNs = vcpuDelayNs
    }
}

/// One vCPU thread's figures side by side, ns over the interval.
public struct VCPUAccounting: Codable, Sendable, Equatable {
    public var vcpu: Int
    public var tid: Int32
    public var onCPUNs: UInt64
    public var runDelayNs: UInt64
    public var userNs: UInt64
    public var systemNs: UInt64
    public var guestNs: UInt64
    public var waitSumNs: UInt64?
    /// libvirt's vcpu.N.time and vcpu.N.delay when libvirt runs the VM.
    public var libvirtTimeNs: UInt64?
    public var libvirtDelayNs: UInt64?

    public init(vcpu: Int, tid: Int32, onCPUNs: UInt64, runDelayNs: UInt64, userNs: UInt64, systemNs: UInt64, guestNs: UInt64,
                waitSumNs: UInt64?, libvirtTimeNs: UInt64?, libvirtDelayNs: UInt64?) {
        self.vcpu = vcpu
        self.tid = tid
        self.onCPUNs = onCPUNs
        self.runDelayNs = runDelayNs
        self.userNs = userNs
        self.systemNs = systemNs
        self.guestNs = guestNs
        self.waitSumNs = waitSumNs
        self.libvirtTimeNs = libvirtTimeNs
        self.libvirtDelayNs = libvirtDelayNs
    }
}

/// Whether a source can be believed on this host.
public struct SourceVerdict: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable {
        case trustworthy
        case notTrustworthy = "not-trustworthy"
        /// Not readable here (no libvirt, no CONFIG_SCHEDSTATS, no VM cgroup).
        case unavailable
        /// Available, but nothing ran long enough in the interval to judge it.
        case notJudged = "not-judged"
    }

    public var source: AccountingSource
    public var verdict: Verdict
    /// Worst discrepancy ratio over the host and the VMs where it was judged.
    public var worstDiscrepancyRatio: Double?
    public var reason: String

    public init(source: AccountingSource, verdict: Verdict, worstDiscrepancyRatio: Double?, reason: String) {
        self.source = source
        self.verdict = verdict
        self.worstDiscrepancyRatio = worstDiscrepancyRatio
        self.reason = reason
    }
}

/// What hvtax knows about the host that explains disagreements.
public struct AccountingEnvironment: Codable, Sendable, Equatable {
    /// "AMD-V (kvm_amd)", "paravirtual KVM (kvm_pvm): guest code emulated in the host kernel", ...
    public var kvmBackend: String
    /// True when guest code is emulated by the host kernel (its time is system time).
    public var guestCodeEmulated: Bool
    /// /proc/PID/task/TID/sched carries wait_sum (CONFIG_SCHEDSTATS).
    public var schedstatsAvailable: Bool
    /// "virsh domstats read for 2 domains", or why libvirt's figures are absent.
    public var libvirt: String

    public init(kvmBackend: String, guestCodeEmulated: Bool, schedstatsAvailable: Bool, libvirt: String) {
        self.kvmBackend = kvmBackend
        self.guestCodeEmulated = guestCodeEmulated
        self.schedstatsAvailable = schedstatsAvailable
        self.libvirt = libvirt
    }
}

/// When a difference counts as a disagreement: more than
/// `ticksPerThread` ticks per thread (for tick-sampled sources) + `relative` × reference + `skewNs`.
/// Below `minimumReferenceTicks` ticks' worth of reference time nothing is judged.
public struct AccountingTolerance: Codable, Sendable, Equatable {
    /// Each reading of a tick-sampled counter is truncated to a tick, so a delta is off by up to
    /// one tick per field read: utime and stime give 2 per thread.
    public var ticksPerThread: Double
    /// Share of the reference allowed on top (sources read microseconds apart, rounding).
    public var relative: Double
    /// Fixed allowance for files read one after another while threads run.
    public var skewNs: UInt64
    /// Below this much reference time (in ticks) the interval is not judged.
    public var minimumReferenceTicks: UInt64

    public init(ticksPerThread: Double = 2, relative: Double = 0.02, skewNs: UInt64 = 2_000_000, minimumReferenceTicks: UInt64 = 20) {
        self.ticksPerThread = ticksPerThread
        self.relative = relative
        self.skewNs = skewNs
        self.minimumReferenceTicks = minimumReferenceTicks
    }

    public static let standard = AccountingTolerance()
}
