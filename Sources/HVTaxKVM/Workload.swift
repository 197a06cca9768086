import CKVM
import Dispatch
import HVTaxModel
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `hvtax workload`: a VM whose load is known. N vCPU threads (`CPU N/KVM`) run hvtax's guest busy
/// for duty x period and halted for the rest, generating exits at chosen rates, and report what
/// they did as truth records while they run.
public final class WorkloadSession: Sendable {
    public let plan: WorkloadPlan
    public let tsc: TSCFrequency
    let machine: GuestMachine
    private let control: WorkloadControl
    private let emit: @Sendable (WorkloadTruthRecord) -> Void
    /// The vCPU threads' TIDs once `run()` started them (for monitors and tests).
    private let threadIDs = Mutex<[Int32]>([])

    /// How long the threads wait after being created, so that all start their first period together.
    static let startDelayNs: UInt64 = 50_000_000

    /// Creates the VM and its vCPUs; nothing runs until `run()`.
    /// - Parameter emit: receives every truth record, from the vCPU threads and the calling thread;
    ///   it must be thread-safe. Records of one vCPU arrive in order; `start` comes first, `end` last.
    public init(plan: WorkloadPlan, devicePath: String = KVMDevice.defaultPath,
                emit: @escaping @Sendable (WorkloadTruthRecord) -> Void) throws(KVMError) {
        do throws(WorkloadPlanError) { try plan.validate() } catch { throw .invalidArgument(error.description) }
        let device = try KVMDevice(path: devicePath)
        let program = try WorkloadGuestProgram.build()
        machine = try GuestMachine(device: device, program: program, vcpuCount: plan.vcpus, mode: .long64,
                                   entry: WorkloadGuestProgram.entry) { index, regs in
            regs.r15 = GuestLayout.mailbox(ofVCPU: index)
            regs.rsi = GuestLayout.mmioAddress(ofVCPU: index)
        }
        tsc = TSCFrequencySource.discover(vcpu: machine.vcpus[0])
        control = try WorkloadControl()
        self.plan = plan
        self.emit = emit
    }

    /// The vCPU threads' TIDs (empty before `run()` starts them).
    public var vcpuThreadIDs: [Int32] { threadIDs.withLock { $0 } }

    /// Ends the run early from any thread (a signal handler's queue, a test): every vCPU finishes
    /// its busy segment, writes its last, incomplete interval, and `run()` writes the end record.
    public func stop(reason: String) {
        control.requestStop(reason: reason, kicking: machine.vcpus)
    }

    /// Runs the whole schedule (or until `stop`), blocking the caller; returns the end record.
    /// Throws the first vCPU failure, after the end record has been emitted.
    @discardableResult
    public func run() throws(KVMError) -> WorkloadTruthEnd {
        let startMonotonicNs = Clock.monotonicNs() + WorkloadSession.startDelayNs
        let startUnixNs = Clock.realtimeNs() + WorkloadSession.startDelayNs
        let begin = DispatchSemaphore(value: 0)
        let results = Mutex<[Int: WorkloadVCPUTotals]>([:])
        var threads: [VCPUThread] = []
        for index in 0..<plan.vcpus {
            let runner = WorkloadVCPURunner(
                index: index, machine: machine, plan: plan, tsc: tsc, control: control,
                startMonotonicNs: startMonotonicNs, startUnixNs: startUnixNs, emit: emit)
            do throws(KVMError) {
                let thread = try VCPUThread(name: VCPUThread.vmmName(ofVCPU: index)) {
                    // The start record must precede every interval record.
                    begin.wait()
                    let totals = runner.run(tid: ckvm_gettid())
                    results.withLock { $0[index] = totals }
                }
                threads.append(thread)
            } catch {
                // Release and end the threads already started before reporting.
                control.recordFailure(error, kicking: machine.vcpus)
                for _ in threads { begin.signal() }
                for thread in threads { thread.join() }
                throw error
            }
        }
        threadIDs.withLock { $0 = threads.map(\.tid) }
        emit(.start(WorkloadTruthStart(
            pid: getpid(), name: plan.name,
            vcpus: threads.enumerated().map { WorkloadVCPUIdentity(vcpu: $0.offset, tid: $0.element.tid,
                                                                   threadName: $0.element.name) },
            periodNs: plan.periodNs, phases: plan.phases,
            exitRatesPerSecond: Dictionary(uniqueKeysWithValues: plan.exitRatesPerSecond.map { ($0.key.rawValue, $0.value) }),
            truthIntervalNs: UInt64(plan.periodsPerInterval) * plan.periodNs, vcpuNice: plan.vcpuNice, tscHz: tsc.hz,
            tscSource: tsc.source,
            startMonotonicNs: startMonotonicNs, startUnixNs: startUnixNs, notes: WorkloadSession.notes)))
        for _ in threads { begin.signal() }
        for thread in threads { thread.join() }

        let totals = results.withLock { map in (0..<plan.vcpus).compactMap { map[$0] } }
        let end = WorkloadTruthEnd(reason: control.stopReason ?? "completed", endMonotonicNs: Clock.monotonicNs(),
                                   endUnixNs: Clock.realtimeNs(), vcpus: totals)
        emit(.end(end))
        if let failure = control.firstFailure { throw failure }
        return end
    }

    /// How to read the truth, written into its start record.
    static let notes = [
        "Times are CLOCK_MONOTONIC ns (startUnixNs is CLOCK_REALTIME) measured by the workload's own threads.",
        "kvmRunNs: inside the KVM_RUN ioctl; idleNs: guest halted, thread sleeping; userspaceNs: the rest of the "
            + "interval (exit handling, bookkeeping); kvmRunNs + idleNs + userspaceNs = the interval's wall time.",
        "guestNs: by the guest's own TSC, its busy time minus the time inside its exits (from just before to just "
            + "after each OUT, MMIO store or CPUID).",
        "threadCPUNs: CLOCK_THREAD_CPUTIME_ID of the vCPU thread, the same clock as /proc/PID/task/TID/schedstat "
            + "field 1; measuredDuty = threadCPUNs / wall. The workload adds busy time within a period when the "
            + "thread was preempted, so measuredDuty follows the request unless the host is overcommitted.",
        "exits: io, mmio, hlt and intr counted at each KVM_RUN return; cpuid counted by the guest (KVM handles "
            + "CPUID without returning to userspace). kvmStats: growth of the vCPU's cumulative KVM statistics.",
        "Exit rates are per vCPU per second of wall time; the exits happen during the busy part of each period.",
    ]
}
