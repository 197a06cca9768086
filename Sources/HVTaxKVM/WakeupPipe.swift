import CKVM

#if canImport(Glibc)
import Glibc
#endif

/// A one-shot wake-up any number of sleeping threads can wait on with a timeout: once `signal()`
/// writes a byte, the read end stays readable for everyone. No lost wake-up, no signal handler.
final class WakeupPipe: Sendable {
    private let readEnd: OwnedFileDescriptor
    private let writeEnd: OwnedFileDescriptor

    init() throws(KVMError) {
        var fds: [Int32] = [0, 0]
        if pipe(&fds) != 0 { throw .systemCall(operation: "pipe", errno: errno) }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        readEnd = OwnedFileDescriptor(fds[0])
        writeEnd = OwnedFileDescriptor(fds[1])
    }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeEnd.raw, &byte, 1)
    }

    /// Sleeps until `deadlineNs` (CLOCK_MONOTONIC) or the signal; true when signalled.
    func wait(untilMonotonicNs deadlineNs: UInt64) -> Bool {
        while true {
            let now = Clock.monotonicNs()
            if now >= deadlineNs { return isSignalled }
            let result = ckvm_wait_readable(readEnd.raw, Int64(deadlineNs - now))
            if result > 0 { return true }
            if result == 0 { return false }
            if errno != EINTR { return isSignalled }
        }
    }

    var isSignalled: Bool { ckvm_wait_readable(readEnd.raw, 0) > 0 }
}
