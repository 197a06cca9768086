import CKVM
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One virtual CPU: its fd, its shared `struct kvm_run`, its registers, its statistics.
///
/// `@unchecked Sendable`: a vCPU is handed to exactly one thread, which issues all its ioctls (KVM
/// also serializes them on the vCPU mutex). The one cross-thread operation is `kick()`, which is
/// KVM's documented protocol: set `immediate_exit` and signal the thread sitting in KVM_RUN.
public final class KVMVCPU: @unchecked Sendable {
    public let id: Int
    let fd: OwnedFileDescriptor
    public let vm: KVMVirtualMachine
    let runArea: UnsafeMutablePointer<kvm_run>
    private let runSize: Int
    /// The thread that calls `run()`, so `kick()` knows whom to signal.
    private let runner = Mutex<pthread_t?>(nil)

    init(id: Int, fd: OwnedFileDescriptor, vm: KVMVirtualMachine) throws(KVMError) {
        let size = vm.device.vcpuMmapSize
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.raw, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw KVMError.from(errno: errno, operation: "mmap of vCPU \(id)'s kvm_run")
        }
        self.id = id
        self.fd = fd
        self.vm = vm
        self.runArea = pointer.bindMemory(to: kvm_run.self, capacity: 1)
        self.runSize = size
        VCPUKickSignal.install()
    }

    deinit {
        munmap(runArea, runSize)
    }

    // MARK: running

    /// Records the calling thread as the one that runs this vCPU (for `kick()`).
    public func bindToCurrentThread() {
        runner.withLock { $0 = pthread_self() }
    }

    /// KVM_RUN once, and the exit that ended it.
    public func run() throws(KVMError) -> KVMExit {
        if ioctl(fd.raw, CKVM_RUN, 0) < 0 {
            let code = errno
            // EINTR: a signal (our kick, or SIGINT to a foreground process) or immediate_exit.
            if code == EINTR { return .interrupted }
            throw .systemCall(operation: "KVM_RUN on vCPU \(id)", errno: code)
        }
        return KVMExit.decode(runArea)
    }

    /// Makes the current or next KVM_RUN return `.interrupted` promptly, from any thread.
    public func kick() {
        // Both halves are needed: the signal ends a KVM_RUN in progress, immediate_exit covers the
        // window where the runner is in userspace and the signal would land before it re-enters.
        runArea.pointee.immediate_exit = 1
        if let thread = runner.withLock({ $0 }) {
            pthread_kill(thread, VCPUKickSignal.number)
        }
    }

    /// Clears a previous `kick()`; the runner calls it after seeing `.interrupted`.
    public func clearKick() {
        runArea.pointee.immediate_exit = 0
    }

    // MARK: registers

    func registers() throws(KVMError) -> kvm_regs {
        var regs = kvm_regs()
        if ioctl(fd.raw, CKVM_GET_REGS, &regs) < 0 { throw .systemCall(operation: "KVM_GET_REGS", errno: errno) }
        return regs
    }

    func setRegisters(_ regs: kvm_regs) throws(KVMError) {
        var regs = regs
        if ioctl(fd.raw, CKVM_SET_REGS, &regs) < 0 { throw .systemCall(operation: "KVM_SET_REGS", errno: errno) }
    }

    func specialRegisters() throws(KVMError) -> kvm_sregs {
        var sregs = kvm_sregs()
        if ioctl(fd.raw, CKVM_GET_SREGS, &sregs) < 0 { throw .systemCall(operation: "KVM_GET_SREGS", errno: errno) }
        return sregs
    }

    func setSpecialRegisters(_ sregs: kvm_sregs) throws(KVMError) {
        var sregs = sregs
        if ioctl(fd.raw, CKVM_SET_SREGS, &sregs) < 0 { throw .systemCall(operation: "KVM_SET_SREGS", errno: errno) }
    }

    /// The guest's instruction pointer (for diagnostics and tests).
    public func instructionPointer() throws(KVMError) -> UInt64 {
        try registers().rip
    }

    // MARK: statistics

    /// This vCPU's binary statistics (exits, io_exits, insn_emulation, halt_wait_hist, ...).
    public func statistics() throws(KVMError) -> KVMStatsReader {
        try KVMStatsReader(statsFdOf: fd, operation: "KVM_GET_STATS_FD (vCPU \(id))")
    }
}

/// The signal that kicks a vCPU thread out of KVM_RUN: SIGUSR1, as QEMU's SIG_IPI.
enum VCPUKickSignal {
    static let number = SIGUSR1

    /// Installs, once per process, a handler that does nothing: its only job is to make the
    /// blocking ioctl return EINTR. No SA_RESTART, or KVM_RUN would be restarted.
    static func install() {
        _ = installed
    }

    private static let installed: Bool = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        return sigaction(number, &action, nil) == 0
    }()
}
