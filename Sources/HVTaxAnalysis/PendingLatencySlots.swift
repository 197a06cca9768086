/// The last few exit latencies of one vCPU whose histogram slot has been prefetched but not yet
/// counted: each is counted `depth` exits of the vCPU later.
///
/// Why: a latency's slot is one of ~1,400 per vCPU and reason, and the histograms of a trace's vCPUs
/// and reasons together outgrow the L2 cache, so the increment on every completed exit missed it.
/// Counting nothing at all there made a 5M-event report 6-10% faster, the whole of what the miss
/// costs. Counting each slot a few exits later, after a prefetch when the exit ended, lets the line
/// arrive while the analysis goes on with other events. Counts are sums, so the order in which slots
/// are counted changes nothing; the vCPU's `finish` counts what is still pending.
struct PendingLatencySlots {
    /// Exits of this vCPU between a slot's prefetch and its count. Between two exits of one vCPU
    /// come at least its entry and, on a busy host, other vCPUs' events: several hundred
    /// nanoseconds at the least, more than a miss takes.
    static let depth = 4

    /// reason << 32 | slot, or `empty`. Inline in the tracker: no allocation, no reference count.
    private var entries = SIMD4<UInt64>(repeating: Self.empty)
    private var next = 0
    private static let empty = UInt64.max

    /// Queues one slot of `reason`'s histogram; returns the slot queued `depth` exits ago, to be
    /// counted now, if there is one.
    @inline(__always)
    mutating func push(reason: UInt32, slot: Int) -> (reason: UInt32, slot: Int)? {
        let due = entries[next]
        entries[next] = UInt64(reason) << 32 | UInt64(UInt32(truncatingIfNeeded: slot))
        next = (next + 1) & (Self.depth - 1)
        return due == Self.empty ? nil : Self.unpack(due)
    }

    /// Every slot still queued, oldest first; the queue is empty afterwards.
    mutating func drain() -> [(reason: UInt32, slot: Int)] {
        var due: [(reason: UInt32, slot: Int)] = []
        for offset in 0..<Self.depth {
            let index = (next + offset) & (Self.depth - 1)
            if entries[index] != Self.empty { due.append(Self.unpack(entries[index])) }
            entries[index] = Self.empty
        }
        return due
    }

    private static func unpack(_ entry: UInt64) -> (reason: UInt32, slot: Int) {
        (UInt32(truncatingIfNeeded: entry >> 32), Int(UInt32(truncatingIfNeeded: entry)))
    }
}
