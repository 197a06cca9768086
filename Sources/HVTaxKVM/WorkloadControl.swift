import Synchronization

/// What every vCPU thread of a workload shares: whether to stop, why, and a wake-up for sleepers.
final class WorkloadControl: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let reason = Mutex<String?>(nil)
    private let failure = Mutex<KVMError?>(nil)
    let wakeup: WakeupPipe

    init() throws(KVMError) {
        wakeup = try WakeupPipe()
    }

    var stopRequested: Bool { stopFlag.load(ordering: .acquiring) }

    var stopReason: String? { reason.withLock { $0 } }

    var firstFailure: KVMError? { failure.withLock { $0 } }

    /// Asks every vCPU to finish its segment, write its last interval and return. The first reason wins.
    func requestStop(reason text: String, kicking vcpus: [KVMVCPU]) {
        reason.withLock { if $0 == nil { $0 = text } }
        stopFlag.store(true, ordering: .releasing)
        wakeup.signal()
        for vcpu in vcpus { vcpu.kick() }
    }

    func recordFailure(_ error: KVMError, kicking vcpus: [KVMVCPU]) {
        failure.withLock { if $0 == nil { $0 = error } }
        requestStop(reason: "error: \(error)", kicking: vcpus)
    }
}
