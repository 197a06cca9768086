import DequeModule
import HVTaxEvents
import HeapModule

/// Puts events back in timestamp order when per-CPU streams arrive interleaved out of order
/// (trace_pipe readers, perf without ordering), with memory bounded by `capacity` events.
///
/// Events that arrive in order go to a FIFO (O(1), the common case: ftrace, trace-cmd and perf
/// all sort their output); only out-of-order arrivals pay for the heap. An event older than one
/// already emitted cannot be put back: it is passed on marked `.late` and counted.
struct ReorderBuffer {
    private struct Pending: Comparable {
        var event: TraceEvent
        var sequence: UInt64
        static func < (a: Pending, b: Pending) -> Bool {
            a.event.time != b.event.time ? a.event.time < b.event.time : a.sequence < b.sequence
        }
        static func == (a: Pending, b: Pending) -> Bool { a.sequence == b.sequence }
    }

    let capacity: Int
    private var inOrder = Deque<Pending>()
    private var outOfOrder = Heap<Pending>()
    private var late = Deque<TraceEvent>()
    private var sequence: UInt64 = 0
    private var lastEmitted: UInt64 = 0
    private var emittedAny = false
    private(set) var reordered: UInt64 = 0
    private(set) var lateCount: UInt64 = 0

    init(capacity: Int = 1 << 16) {
        self.capacity = capacity
    }

    var count: Int { inOrder.count + outOfOrder.count + late.count }

    mutating func push(_ event: TraceEvent) {
        if emittedAny && event.time < lastEmitted {
            var marked = event
            marked.flags.insert(.late)
            lateCount += 1
            late.append(marked)
            return
        }
        sequence += 1
        let pending = Pending(event: event, sequence: sequence)
        if let last = inOrder.last, event.time < last.event.time {
            reordered += 1
            outOfOrder.insert(pending)
        } else {
            inOrder.append(pending)
        }
    }

    /// The earliest event once more than `capacity` are held, so later arrivals can still overtake.
    mutating func popReady() -> TraceEvent? {
        if !late.isEmpty { return late.removeFirst() }
        return count > capacity ? popEarliest() : nil
    }

    /// The earliest held event, for draining at the end of the input.
    mutating func popEarliest() -> TraceEvent? {
        if !late.isEmpty { return late.removeFirst() }
        let pending: Pending
        if let head = inOrder.first, let min = outOfOrder.min {
            pending = min < head ? outOfOrder.removeMin() : inOrder.removeFirst()
        } else if !inOrder.isEmpty {
            pending = inOrder.removeFirst()
        } else if !outOfOrder.isEmpty {
            pending = outOfOrder.removeMin()
        } else {
            return nil
        }
        lastEmitted = pending.event.time
        emittedAny = true
        return pending.event
    }
}
