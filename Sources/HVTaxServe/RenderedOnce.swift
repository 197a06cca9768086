import Synchronization

/// A value made the first time someone asks for it, then kept: one rendering of a published view
/// (the exposition in one format, its gzip, the snapshot JSON).
///
/// Why on demand: a host samples every few seconds, Prometheus scrapes every 15-60 s and asks for one
/// format, with gzip; rendering both formats, gzipping both and encoding the snapshot JSON at every
/// interval spent most of `hvtax serve`'s CPU time on output nobody fetched (at 100 VMs x 8 vCPUs and
/// a 1 s interval, 56% of the process's time; docs/serve.md). The first request for a view renders
/// what it asks for; later ones, and those waiting on the lock meanwhile, get the same bytes.
final class RenderedOnce<Value: Sendable>: RenderedOnceState {
    private let make: @Sendable () -> Value
    // The lock is held while rendering, so concurrent first requests render once: the second waits
    // for the first's result (tens of ms at 800 vCPUs) rather than doing the same work beside it.
    private let state = Mutex<(value: Value?, asked: Bool)>((nil, false))

    init(_ make: @escaping @Sendable () -> Value) {
        self.make = make
    }

    /// The value for a request: made if it was not, and marked as asked for.
    var value: Value { take(asked: true) }

    /// The value made without marking it asked for: what the sampler renders ahead, and what
    /// another rendering is made from (the gzip from the text).
    var prepared: Value { take(asked: false) }

    func prepare() { _ = prepared }

    /// Whether a request asked for it (not only the sampler, nor another rendering).
    var wasAsked: Bool { state.withLock { $0.asked } }

    /// Whether it has been made (for the tests that check nothing is rendered unasked).
    var isMade: Bool { state.withLock { $0.value != nil } }

    private func take(asked: Bool) -> Value {
        state.withLock { state in
            if asked { state.asked = true }
            if let value = state.value { return value }
            let made = make()
            state.value = made
            return made
        }
    }
}

/// What a view's renderings say about themselves, whatever their value's type.
protocol RenderedOnceState: Sendable {
    var wasAsked: Bool { get }
    var isMade: Bool { get }
    /// Makes the value, if it was not made, without marking it asked for.
    func prepare()
}
