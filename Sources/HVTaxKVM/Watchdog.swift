import Synchronization

/// Kicks a vCPU out of KVM_RUN if a guest run takes longer than it may: on some KVMs an
/// instruction never completes (this machine's emulator loops forever on a hypercall).
final class Watchdog: Sendable {
    private final class Flag: Sendable {
        let fired = Atomic<Bool>(false)
        let joined = Atomic<Bool>(false)
    }

    private let cancelled: WakeupPipe
    private let flag = Flag()
    private let thread: VCPUThread

    init(vcpu: KVMVCPU, timeoutNs: UInt64) throws(KVMError) {
        let cancelled = try WakeupPipe()
        let flag = flag
        let deadline = Clock.monotonicNs() + timeoutNs
        thread = try VCPUThread(name: "hvtax watchdog") {
            if !cancelled.wait(untilMonotonicNs: deadline) {
                flag.fired.store(true, ordering: .sequentiallyConsistent)
                vcpu.kick()
            }
        }
        self.cancelled = cancelled
    }

    /// Whether the deadline passed and the vCPU was kicked.
    var hasFired: Bool { flag.fired.load(ordering: .sequentiallyConsistent) }

    /// Stops the watchdog (once; later calls only report); true when it had fired.
    func cancel() -> Bool {
        if !flag.joined.exchange(true, ordering: .sequentiallyConsistent) {
            cancelled.signal()
            thread.join()
        }
        return hasFired
    }
}
