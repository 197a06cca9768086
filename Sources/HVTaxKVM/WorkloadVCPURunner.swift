import HVTaxModel

#if canImport(Glibc)
import Glibc
#endif

/// Drives one vCPU of the workload through its periods, measuring everything it claims.
///
/// Each period: a busy segment of duty x period (the guest spins on its TSC and performs the
/// period's exits), then HLT and a sleep on the host until the period ends. If the thread got less
/// CPU than duty x period during the busy segment (other load preempted it), further segments make
/// up the difference before the period ends, and what still lacks is owed to the next periods: the
/// duty is what a monitor sees as on-CPU time, over any window of several periods.
final class WorkloadVCPURunner: @unchecked Sendable {
    // @unchecked: used only on its own vCPU thread after construction.
    let index: Int
    let vcpu: KVMVCPU
    let memory: GuestMemory
    let plan: WorkloadPlan
    let tsc: TSCFrequency
    let control: WorkloadControl
    let allVCPUs: [KVMVCPU]
    let emit: @Sendable (WorkloadTruthRecord) -> Void
    /// CLOCK_MONOTONIC and CLOCK_REALTIME of the common start, for the truth's two time axes.
    let startMonotonicNs: UInt64
    let startUnixNs: UInt64
    var tid: Int32 = 0

    private let mailbox: UInt64
    /// Extensions shorter than this are not worth a KVM_RUN round trip.
    private let minimumExtensionNs: UInt64 = 100_000

    private struct Accumulator {
        var guestTicks: UInt64 = 0
        var kvmRunNs: UInt64 = 0
        var idleNs: UInt64 = 0
        var exits = WorkloadExitCounts()
        var periods = 0
    }

    private var interval = Accumulator()
    /// CPU time owed to the duty by earlier periods (negative: spent ahead).
    private var cpuDebtNs: Int64 = 0
    private var totals: WorkloadVCPUTotals

    init(index: Int, machine: GuestMachine, plan: WorkloadPlan, tsc: TSCFrequency, control: WorkloadControl,
         startMonotonicNs: UInt64, startUnixNs: UInt64, emit: @escaping @Sendable (WorkloadTruthRecord) -> Void) {
        self.index = index
        self.vcpu = machine.vcpus[index]
        self.memory = machine.memory
        self.plan = plan
        self.tsc = tsc
        self.control = control
        self.allVCPUs = machine.vcpus
        self.emit = emit
        self.startMonotonicNs = startMonotonicNs
        self.startUnixNs = startUnixNs
        self.mailbox = GuestLayout.mailbox(ofVCPU: index)
        self.totals = WorkloadVCPUTotals(vcpu: index, tid: 0, wallNs: 0, guestNs: 0, kvmRunNs: 0, userspaceNs: 0,
                                         idleNs: 0, threadCPUNs: 0, runQueueWaitNs: 0, exits: WorkloadExitCounts(),
                                         kvmStats: [:])
    }

    /// Runs the whole schedule on the calling thread; returns this vCPU's totals.
    func run(tid: Int32) -> WorkloadVCPUTotals {
        self.tid = tid
        totals.tid = tid
        vcpu.bindToCurrentThread()
        do throws(KVMError) {
            try runSchedule()
        } catch {
            control.recordFailure(error, kicking: allVCPUs)
        }
        return totals
    }

    private func runSchedule() throws(KVMError) {
        if let nice = plan.vcpuNice, setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), nice) != 0 {
            throw .systemCall(operation: "setpriority(\(nice)) for vCPU \(index) (a negative --nice needs root)", errno: errno)
        }
        let stats = try vcpu.statistics()
        var pacers = WorkloadPlan.ExitKind.allCases.map {
            ExitPacer(ratePerSecond: plan.exitRatesPerSecond[$0] ?? 0, periodNs: plan.periodNs)
        }
        // Every vCPU starts at the common start (or at once, if asked to stop while waiting).
        _ = control.wakeup.wait(untilMonotonicNs: startMonotonicNs)
        var intervalStartNs = Clock.monotonicNs()
        var intervalStartCPU = Clock.threadCPUNs()
        var intervalStartStats = try stats.sample()
        var intervalStartWaitNs = ThreadSchedstat.current()?.runQueueWaitNs ?? 0
        let firstStats = intervalStartStats
        let firstCPU = intervalStartCPU
        var intervalIndex = 0
        var periodIndex: UInt64 = 0
        var carried = [UInt64](repeating: 0, count: pacers.count)
        var phaseIndex = 0

        func closeInterval(complete: Bool) throws(KVMError) {
            let endNs = Clock.monotonicNs()
            let cpuNs = Clock.threadCPUNs()
            let sample = try stats.sample()
            let waitNs = ThreadSchedstat.current()?.runQueueWaitNs ?? intervalStartWaitNs
            let wallNs = endNs - intervalStartNs
            let guestNs = UInt64(tsc.nanoseconds(ofCycles: Double(interval.guestTicks)))
            let accountedNs = interval.kvmRunNs + interval.idleNs
            let record = WorkloadTruthInterval(
                vcpu: index, tid: tid, index: intervalIndex, phase: phaseIndex,
                requestedDuty: plan.phases[phaseIndex].duty, startMonotonicNs: intervalStartNs, endMonotonicNs: endNs,
                startUnixNs: startUnixNs &+ intervalStartNs &- startMonotonicNs, periods: interval.periods,
                complete: complete, guestNs: guestNs, kvmRunNs: interval.kvmRunNs,
                userspaceNs: wallNs > accountedNs ? wallNs - accountedNs : 0, idleNs: interval.idleNs,
                threadCPUNs: cpuNs - intervalStartCPU, runQueueWaitNs: waitNs - intervalStartWaitNs, exits: interval.exits,
                kvmStats: sample.cumulativeDeltas(since: intervalStartStats))
            emit(.interval(record))
            totals.guestNs += guestNs
            totals.kvmRunNs += interval.kvmRunNs
            totals.idleNs += interval.idleNs
            totals.userspaceNs += record.userspaceNs
            totals.exits = totals.exits + interval.exits
            totals.threadCPUNs = cpuNs - firstCPU
            totals.runQueueWaitNs += waitNs - intervalStartWaitNs
            totals.kvmStats = sample.cumulativeDeltas(since: firstStats)
            interval = Accumulator()
            intervalIndex += 1
            intervalStartNs = endNs
            intervalStartCPU = cpuNs
            intervalStartStats = sample
            intervalStartWaitNs = waitNs
        }

        let firstIntervalStartNs = intervalStartNs
        schedule: for (phaseNumber, phase) in plan.phases.enumerated() {
            phaseIndex = phaseNumber
            let periods = max(1, phase.durationNs / plan.periodNs)
            for periodInPhase in 0..<periods {
                if control.stopRequested { break schedule }
                let periodStart = startMonotonicNs + periodIndex * plan.periodNs
                // Exits a starved period could not fit are carried over, so the long-run rate holds.
                let counts = pacers.indices.map { pacers[$0].nextPeriod() + carried[$0] }
                carried = try runPeriod(duty: phase.duty, startNs: periodStart, endNs: periodStart + plan.periodNs,
                                        counts: counts)
                periodIndex += 1
                // A period cut short by a stop is not counted; its time goes to the last interval.
                if control.stopRequested { break schedule }
                interval.periods += 1
                if interval.periods == plan.periodsPerInterval || periodInPhase == periods - 1 {
                    try closeInterval(complete: true)
                }
            }
        }
        if control.stopRequested { try closeInterval(complete: false) }
        totals.wallNs = intervalStartNs - firstIntervalStartNs
    }

    /// One period: busy segments until duty x period of CPU, then idle until the period's end.
    /// Returns the exits that did not fit (the thread was starved of CPU for too long).
    private func runPeriod(duty: Double, startNs: UInt64, endNs: UInt64, counts: [UInt64]) throws(KVMError)
        -> [UInt64]
    {
        let cpuAtStart = Clock.threadCPUNs()
        // The CPU time still owed (or, negative, overspent) by earlier periods is settled here, within
        // limits, so that the duty holds over many periods even when single periods were starved.
        let owedNs = duty * Double(plan.periodNs) + Double(cpuDebtNs)
        let targetCPUNs = UInt64(max(0, min(owedNs, Double(plan.periodNs))))
        let busyWallEnd = startNs + targetCPUNs
        var remaining = counts
        var first = true
        while !control.stopRequested {
            let now = Clock.monotonicNs()
            let busyNs: UInt64
            if first {
                busyNs = busyWallEnd > now ? busyWallEnd - now : 0
                first = false
            } else {
                let consumed = Clock.threadCPUNs() - cpuAtStart
                guard consumed + minimumExtensionNs < targetCPUNs, now + minimumExtensionNs < endNs else { break }
                busyNs = min(targetCPUNs - consumed, endNs - now)
            }
            remaining = try runSegment(busyNs: busyNs, counts: remaining)
        }
        let consumedNs = Int64(Clock.threadCPUNs() - cpuAtStart)
        let baseNs = Int64(duty * Double(plan.periodNs))
        cpuDebtNs = min(max(Int64(owedNs) - consumedNs, -baseNs), Int64(plan.periodNs))
        let idleStart = Clock.monotonicNs()
        if idleStart < endNs && !control.stopRequested {
            _ = control.wakeup.wait(untilMonotonicNs: endNs)
            interval.idleNs += Clock.monotonicNs() - idleStart
        }
        return remaining
    }

    /// Runs the guest through one busy segment up to its HLT; returns the exits still to do.
    private func runSegment(busyNs: UInt64, counts: [UInt64]) throws(KVMError) -> [UInt64] {
        typealias Mailbox = WorkloadGuestProgram.Mailbox
        let busyTicks = UInt64(Double(busyNs) * tsc.hz / 1e9)
        let records = [Mailbox.io, Mailbox.mmio, Mailbox.cpuid]
        try store(busyTicks, Mailbox.busyEnd)
        for (record, count) in zip(records, counts) {
            // Spread the exits evenly over the segment, the first half an interval in.
            let spacing = count > 0 ? max(1, busyTicks / count) : 0
            try store(count, record + Mailbox.remaining)
            try store(count > 0 ? spacing / 2 : WorkloadGuestProgram.never, record + Mailbox.next)
            try store(spacing, record + Mailbox.interval)
            try store(0, record + Mailbox.done)
        }
        try store(0, Mailbox.exitTicks)

        segment: while true {
            let before = Clock.monotonicNs()
            let exit = try vcpu.run()
            interval.kvmRunNs += Clock.monotonicNs() - before
            switch exit {
            case .io(UInt16(GuestLayout.ioExitPort), true, _, _, _):
                interval.exits.io += 1
            case .mmio(_, _, true, _):
                interval.exits.mmio += 1
            case .hlt:
                interval.exits.hlt += 1
                break segment
            case .interrupted:
                interval.exits.intr += 1
                vcpu.clearKick()
                // Ending the busy part now makes the guest reach its HLT at its next check, so the
                // segment's guest-side measurements stay complete.
                if control.stopRequested { try store(0, Mailbox.busyEnd) }
            case .io(UInt16(GuestLayout.exceptionPort), true, _, _, let vector):
                throw .unexpectedExit(operation: "workload vCPU \(index)", exit: "guest exception vector \(vector)")
            default:
                throw .unexpectedExit(operation: "workload vCPU \(index)", exit: "\(exit.name) \(exit)")
            }
        }

        let start = try load(Mailbox.segmentStart)
        let end = try load(Mailbox.segmentEnd)
        let exitTicks = try load(Mailbox.exitTicks)
        let span = end > start ? end - start : 0
        interval.guestTicks += span > exitTicks ? span - exitTicks : 0
        interval.exits.cpuid += try load(Mailbox.cpuid + Mailbox.done)
        var left: [UInt64] = []
        for record in records { left.append(try load(record + Mailbox.remaining)) }
        return left
    }

    private func store(_ value: UInt64, _ offset: UInt8) throws(KVMError) {
        try memory.store(value, at: mailbox + UInt64(offset))
    }

    private func load(_ offset: UInt8) throws(KVMError) -> UInt64 {
        try memory.load(at: mailbox + UInt64(offset))
    }
}
