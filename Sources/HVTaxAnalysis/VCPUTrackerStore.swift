/// The analyzer's vCPU trackers, updated in place on every event.
///
/// An `Array` held by the analyzer (a class) checks that its buffer is uniquely referenced on every
/// mutation through `trackers[index]`: 3.8% of a 5M-event trace.dat report went to
/// `_makeMutableAndUnique` and `swift_isUniquelyReferenced`. This store is owned by exactly one
/// analyzer and never shared (it is non-copyable), so it needs no such check.
struct VCPUTrackerStore: ~Copyable {
    private var base: UnsafeMutablePointer<VCPUTracker>
    private var capacity: Int
    private(set) var count = 0

    init() {
        capacity = 16
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    var indices: Range<Int> { 0..<count }

    subscript(index: Int) -> VCPUTracker {
        unsafeAddress {
            precondition(index >= 0 && index < count, "vCPU tracker index out of range")
            return UnsafePointer(base + index)
        }
        unsafeMutableAddress {
            precondition(index >= 0 && index < count, "vCPU tracker index out of range")
            return base + index
        }
    }

    mutating func append(_ tracker: VCPUTracker) {
        if count == capacity {
            let grown = UnsafeMutablePointer<VCPUTracker>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
            base = grown
            capacity *= 2
        }
        (base + count).initialize(to: tracker)
        count += 1
    }

    /// A copy of every tracker, in the order they were added (their indices).
    var all: [VCPUTracker] { Array(UnsafeBufferPointer(start: base, count: count)) }
}
