import HVTaxEvents
import HeapModule

/// Puts events back in timestamp order when per-CPU streams arrive interleaved out of order
/// (trace_pipe readers, perf without ordering), with memory bounded by `capacity` events.
///
/// Events that arrive in order go to a FIFO (O(1), the common case: ftrace, trace-cmd and perf
/// all sort their output); only out-of-order arrivals pay for the heap. 8,192 events (about 450 KB)
/// stay in the CPU's cache; a larger window measurably slows every event. An event older than one
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
    private var inOrder: EventRing
    private var outOfOrder = Heap<Pending>()
    private var late: [TraceEvent] = []
    private var lateHead = 0
    private var sequence: UInt64 = 0
    private var lastEmitted: UInt64 = 0
    private var emittedAny = false
    private(set) var reordered: UInt64 = 0
    private(set) var lateCount: UInt64 = 0

    init(capacity: Int = 1 << 13) {
        self.capacity = capacity
        inOrder = EventRing(capacity: capacity + 1)
    }

    var count: Int { inOrder.count + outOfOrder.count + late.count - lateHead }

    mutating func push(_ event: TraceEvent) {
        if emittedAny && event.time < lastEmitted {
            var marked = event
            marked.flags.insert(.late)
            lateCount += 1
            late.append(marked)
            return
        }
        if let last = inOrder.lastTime, event.time < last {
            reordered += 1
            sequence += 1
            outOfOrder.insert(Pending(event: event, sequence: sequence))
        } else if inOrder.isFull {
            // Only when a burst of late arrivals filled the heap's share: keep order through the heap.
            sequence += 1
            outOfOrder.insert(Pending(event: event, sequence: sequence))
        } else {
            inOrder.append(event)
        }
    }

    /// The earliest event once more than `capacity` are held, so later arrivals can still overtake.
    mutating func popReady() -> TraceEvent? {
        if lateHead < late.count { return popLate() }
        return count > capacity ? popEarliest() : nil
    }

    /// The earliest held event, for draining at the end of the input.
    mutating func popEarliest() -> TraceEvent? {
        if lateHead < late.count { return popLate() }
        let event: TraceEvent
        if let headTime = inOrder.firstTime {
            // Ties go to the in-order run: it arrived first.
            if let min = outOfOrder.min, min.event.time < headTime {
                event = outOfOrder.removeMin().event
            } else {
                event = inOrder.removeFirst()
            }
        } else if !outOfOrder.isEmpty {
            event = outOfOrder.removeMin().event
        } else {
            return nil
        }
        lastEmitted = event.time
        emittedAny = true
        return event
    }

    private mutating func popLate() -> TraceEvent {
        let event = late[lateHead]
        lateHead += 1
        if lateHead == late.count {
            late.removeAll(keepingCapacity: true)
            lateHead = 0
        }
        return event
    }
}

/// A fixed-capacity FIFO of events in arrival order: the reorder buffer's common, in-order case.
struct EventRing {
    private var storage: [TraceEvent]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        storage = Array(repeating: TraceEvent(time: 0, kind: .other), count: capacity)
    }

    var isFull: Bool { count == storage.count }
    var isEmpty: Bool { count == 0 }
    var firstTime: UInt64? { count == 0 ? nil : storage[head].time }
    var lastTime: UInt64? {
        guard count > 0 else { return nil }
        let index = head + count - 1
        return storage[index < storage.count ? index : index - storage.count].time
    }

    @inline(__always) mutating func append(_ event: TraceEvent) {
        let index = head + count
        storage[index < storage.count ? index : index - storage.count] = event
        count += 1
    }

    @inline(__always) mutating func removeFirst() -> TraceEvent {
        let event = storage[head]
        head += 1
        if head == storage.count { head = 0 }
        count -= 1
        return event
    }
}
