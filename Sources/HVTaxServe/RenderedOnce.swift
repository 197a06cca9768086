import Synchronization

/// A value made the first time someone asks for it, then kept: one rendering of a published view
/// (the exposition in one format, its gzip, the snapshot JSON).
///
/// Why on demand: a host samples every few seconds, Prometheus scrapes every 15-60 s and asks for one
/// format, with gzip; rendering both formats, gzipping both and encoding the snapshot JSON at every
/// interval spent most of `hvtax serve`'s CPU time on output nobody fetched (at 100 VMs x 8 vCPUs and
/// a 1 s interval, 56% of the process's time; docs/serve.md). The first request for a view renders
/// what it asks for; later ones, and those waiting on the lock meanwhile, get the same bytes.
final class RenderedOnce<Value: Sendable>: Sendable {
    private let make: @Sendable () -> Value
    // The lock is held while rendering, so concurrent first requests render once: the second waits
    // for the first's result (tens of ms at 800 vCPUs) rather than doing the same work beside it.
    private let state = Mutex<Value?>(nil)

    init(_ make: @escaping @Sendable () -> Value) {
        self.make = make
    }

    var value: Value {
        state.withLock { state in
            if let state { return state }
            let made = make()
            state = made
            return made
        }
    }

    /// Whether it has been rendered (for the tests that check nothing is rendered unasked).
    var isMade: Bool { state.withLock { $0 != nil } }
}
