#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor closed exactly once, when its last owner lets go.
///
/// KVM hands out a chain of descriptors (system, VM, vCPU, stats); tying each to an object's
/// lifetime is what keeps an early `throw` from leaking a VM.
final class OwnedFileDescriptor: Sendable {
    let raw: Int32

    init(_ raw: Int32) {
        self.raw = raw
    }

    deinit {
        close(raw)
    }
}

/// Retries a system call interrupted by a signal (hvtax kicks vCPU threads with SIGUSR1).
@inline(__always)
func retryingOnEINTR(_ call: () -> Int) -> Int {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}
