import HVTaxEvents
import HVTaxModel

/// A host trace and a guest trace of the same run, with the truth of what the guest ran during each
/// kind of vCPU interval, for testing the host + guest merge against constructed ground truth.
///
/// The host side: each vCPU thread loops guest run -> kvm_exit (a reason from a fixed mix) ->
/// hypervisor (sometimes preempted) -> for IO exits kvm_userspace_exit and VMM time -> kvm_entry. The
/// guest side, on the guest CPU of the same number: task switches, IRQs (entry/exit) and syscalls
/// (sys_enter/sys_exit), only while its vCPU is in guest mode, on the guest's own clock: the events'
/// host times are chosen first, then turned into guest times through the inverse of the time shift
/// below, and the host time the shift gives back is the truth.
public struct HostGuestScenario {
    /// One TIME_SHIFT sample (the guest file's option), the same for every guest CPU.
    public struct ClockSample: Sendable, Equatable {
        public var guestTime: Int64
        public var offset: Int64
        public var scaling: Int64
        public var fraction: Int64
    }

    /// A kind of host interval: the state, and the exit reason inside exit windows.
    public struct IntervalKind: Hashable, Sendable {
        public var state: VCPUState
        public var reason: String?
        public init(state: VCPUState, reason: String?) {
            self.state = state
            self.reason = reason
        }
    }

    /// Guest activity during one kind of interval of one vCPU, per guest task (tid, nil = not yet seen).
    public struct Activity: Equatable, Sendable {
        public var time: UInt64 = 0
        public var irqs: UInt64 = 0
        public var syscalls: UInt64 = 0
        public init(time: UInt64 = 0, irqs: UInt64 = 0, syscalls: UInt64 = 0) {
            self.time = time
            self.irqs = irqs
            self.syscalls = syscalls
        }
    }

    public static let hostPid: Int32 = 2000
    public static let guestName = "vm-merge"
    public static let guestTraceID: UInt64 = 0x1234_abcd_5678
    public static let hostTraceID: UInt64 = 0xabc_0001
    /// Interpolation between samples, scaling 1025/1024 (the guest's clock runs slower), offsets that
    /// drift by tens of µs between samples; the run starts before the first sample (extrapolation).
    public static let clockSamples: [ClockSample] = [
        ClockSample(guestTime: 1_900_000_000, offset: 3_000_000_000, scaling: 1025, fraction: 10),
        ClockSample(guestTime: 1_950_000_000, offset: 3_000_050_000, scaling: 1025, fraction: 10),
        ClockSample(guestTime: 2_000_000_000, offset: 2_999_980_000, scaling: 1025, fraction: 10),
    ]

    public private(set) var hostEvents: [TraceEvent] = []
    /// On the guest's clock; `cpu` is the guest CPU.
    public private(set) var guestEvents: [TraceEvent] = []
    /// The host time of each guest event, in `guestEvents` order.
    public private(set) var guestHostTimes: [UInt64] = []
    /// vCPU -> kind -> guest task tid (nil before the guest showed one) -> activity.
    public private(set) var truth: [Int32: [IntervalKind: [Int32?: Activity]]] = [:]
    public let vcpuThreads: [(vcpu: Int32, tid: Int32)]

    public init(vcpus: Int = 2, cycles: Int = 800, seed: UInt64 = 7, symbols: SymbolTable) {
        var rng = SplitMix64(seed: seed)
        vcpuThreads = (0..<vcpus).map { (Int32($0), Self.hostPid + 1 + Int32($0)) }
        let reasons: [(code: UInt32, name: String)] = [(48, "EPT_VIOLATION"), (32, "MSR_WRITE"), (30, "IO_INSTRUCTION"),
                                                        (1, "EXTERNAL_INTERRUPT"), (12, "HLT")]
        let tasks: [(tid: Int32, name: String)] = [(0, "<idle>"), (301, "postgres"), (302, "nginx"), (303, "kworker/0:1")]
        let other = (tid: Int32(50), name: "stress-ng")
        for (vcpu, tid) in vcpuThreads {
            let comm = symbols.names.intern("CPU \(vcpu)/KVM")
            let otherComm = symbols.names.intern(other.name)
            let hostCPU = vcpu
            var t: UInt64 = 4_900_000_000 + UInt64(vcpu) * 777
            var intervals: [(start: UInt64, end: UInt64, kind: IntervalKind)] = []
            var taskChanges: [(time: UInt64, task: Int32?)] = [(t, nil)]
            var counts: [(time: UInt64, irq: Bool)] = []
            var currentTask: Int32?
            func host(_ kind: EventKind, _ time: UInt64, code: UInt32 = 0, flags: TraceEvent.Flags = [],
                      otherTid: Int32 = TraceEvent.unknownID, fromOther: Bool = false) {
                var event = TraceEvent(time: time, kind: kind, cpu: hostCPU, tid: fromOther ? other.tid : tid,
                                       tgid: fromOther ? other.tid : Self.hostPid, vcpu: kind == .kvmExit || kind == .kvmEntry ? vcpu : TraceEvent.unknownID,
                                       code: code, comm: fromOther ? otherComm : comm, otherTid: otherTid, flags: flags)
                if kind == .schedSwitch { event.otherComm = fromOther ? comm : otherComm }
                hostEvents.append(event)
            }
            func guest(_ kind: EventKind, at target: UInt64, code: UInt32 = 0, next: (tid: Int32, name: String)? = nil) {
                let (raw, time) = Self.guestTime(near: target)
                let current = currentTask ?? 0
                var event = TraceEvent(time: raw, kind: kind, cpu: vcpu, tid: current,
                                       code: code, comm: symbols.names.intern(tasks.first { $0.tid == current }?.name ?? "<idle>"))
                if let next {
                    event.otherTid = next.tid
                    event.otherComm = symbols.names.intern(next.name)
                }
                guestEvents.append(event)
                guestHostTimes.append(time)
                if currentTask == nil {
                    currentTask = current
                    taskChanges.append((time, current))
                }
                if let next {
                    currentTask = next.tid
                    taskChanges.append((time, next.tid))
                }
                if kind == .irqHandlerEntry { counts.append((time, true)) }
                if kind == .syscallEnter { counts.append((time, false)) }
            }
            host(.kvmEntry, t)
            for cycle in 0..<cycles {
                // Guest mode: guest events strictly inside, 2 µs from either edge.
                let run = rng.between(20_000, 200_000)
                let guestStart = t
                var cursor = guestStart + 2_000
                let end = guestStart + run - 2_000
                if cycle == 0 { guest(.schedSwitch, at: cursor, next: tasks[1 + Int(vcpu) % 3]) }
                while true {
                    cursor += rng.between(3_000, 40_000)
                    guard cursor + 3_000 < end else { break }
                    switch rng.between(0, 3) {
                    case 0: guest(.schedSwitch, at: cursor, next: tasks[Int(rng.between(0, 3))])
                    case 1:
                        guest(.irqHandlerEntry, at: cursor, code: 11)
                        guest(.irqHandlerExit, at: cursor + 1_000, code: 11)
                        cursor += 1_000
                    default:
                        let number = UInt32(rng.between(0, 300))
                        guest(.syscallEnter, at: cursor, code: number)
                        guest(.syscallExit, at: cursor + 1_500, code: number)
                        cursor += 1_500
                    }
                }
                t = guestStart + run
                intervals.append((guestStart, t, IntervalKind(state: .guest, reason: nil)))
                let reason = reasons[Int(rng.between(0, UInt64(reasons.count - 1)))]
                host(.kvmExit, t, code: symbols.reason(code: reason.code, isa: .vmx))
                var hypervisor = rng.between(1_000, 20_000)
                if rng.between(0, 9) == 0 {
                    // Preempted in the middle of the exit: the thread is runnable but off CPU.
                    intervals.append((t, t + hypervisor / 2, IntervalKind(state: .hypervisor, reason: reason.name)))
                    t += hypervisor / 2
                    host(.schedSwitch, t, flags: .prevRunnable, otherTid: other.tid)
                    let away = rng.between(5_000, 50_000)
                    intervals.append((t, t + away, IntervalKind(state: .preempted, reason: reason.name)))
                    t += away
                    host(.schedSwitch, t, otherTid: tid, fromOther: true)
                    hypervisor -= hypervisor / 2
                }
                intervals.append((t, t + hypervisor, IntervalKind(state: .hypervisor, reason: reason.name)))
                t += hypervisor
                if reason.code == 30 {
                    host(.userspaceExit, t, code: 2)
                    let vmm = rng.between(5_000, 30_000)
                    intervals.append((t, t + vmm, IntervalKind(state: .vmm, reason: reason.name)))
                    t += vmm
                }
                host(.kvmEntry, t)
            }
            truth[vcpu] = Self.attribute(intervals: intervals, taskChanges: taskChanges, counts: counts)
        }
    }

    /// The truth, interval by interval: each interval's overlap with each stretch of one current task.
    private static func attribute(intervals: [(start: UInt64, end: UInt64, kind: IntervalKind)],
                                  taskChanges: [(time: UInt64, task: Int32?)],
                                  counts: [(time: UInt64, irq: Bool)]) -> [IntervalKind: [Int32?: Activity]] {
        var result: [IntervalKind: [Int32?: Activity]] = [:]
        var change = 0
        for interval in intervals {
            var from = interval.start
            while from < interval.end {
                while change + 1 < taskChanges.count && taskChanges[change + 1].time <= from { change += 1 }
                let until = change + 1 < taskChanges.count ? min(interval.end, taskChanges[change + 1].time) : interval.end
                result[interval.kind, default: [:]][taskChanges[change].task, default: Activity()].time += until - from
                from = until
            }
        }
        for count in counts {
            guard let interval = intervals.first(where: { $0.start <= count.time && count.time < $0.end }) else { continue }
            let task = taskChanges.last { $0.time <= count.time }!.task
            if count.irq {
                result[interval.kind, default: [:]][task, default: Activity()].irqs += 1
            } else {
                result[interval.kind, default: [:]][task, default: Activity()].syscalls += 1
            }
        }
        return result
    }

    /// trace-cmd's mapping of a guest time to the host's, with this scenario's samples (the pair
    /// around the time, interpolated offset rounded half up, scaling from the pair's first sample).
    public static func hostTime(ofGuest raw: UInt64) -> UInt64 {
        let s = clockSamples
        let k = raw < UInt64(s[1].guestTime) ? 0 : 1
        let low = s[k], high = s[k + 1]
        let delta = high.guestTime - low.guestTime
        let offset = low.offset + ((Int64(raw) - low.guestTime) * (high.offset - low.offset) + delta / 2) / delta
        return UInt64((Int64(raw) * low.scaling) >> low.fraction + offset)
    }

    /// A guest time whose host time is within a few ns of `target`, and that host time.
    static func guestTime(near target: UInt64) -> (raw: UInt64, host: UInt64) {
        var raw = target - 3_000_000_000
        for _ in 0..<4 {
            let error = Int64(hostTime(ofGuest: raw)) - Int64(target)
            raw = UInt64(Int64(raw) - error * 1024 / 1025)
        }
        return (raw, hostTime(ofGuest: raw))
    }
}
