import HVTaxModel

/// Everything counted about the exits of one reason in one vCPU.
struct ReasonAccumulator {
    var count: UInt64 = 0
    var hypervisorTime: UInt64 = 0
    var vmmTime: UInt64 = 0
    var offCPUTime: UInt64 = 0
    var paths = PathBreakdown()
    var latency = LatencyRecorder()

    mutating func add(_ other: ReasonAccumulator) {
        count += other.count
        hypervisorTime += other.hypervisorTime
        vmmTime += other.vmmTime
        offCPUTime += other.offCPUTime
        paths += other.paths
        latency.add(other.latency)
    }
}

/// Per-reason accumulators of one scope, indexed by reason symbol (reasons are few and dense).
struct ExitAccumulator {
    /// Accumulators are not optional: updating one in place through an optional copies it.
    private var byReason: [ReasonAccumulator] = []
    private var present: [Bool] = []

    subscript(reason: UInt32) -> ReasonAccumulator {
        get {
            let index = Int(reason)
            return index < byReason.count ? byReason[index] : ReasonAccumulator()
        }
        set {
            update(reason) { $0 = newValue }
        }
    }

    /// Mutates in place (no copy of the histogram): the hot path of every exit.
    @inline(__always)
    mutating func update(_ reason: UInt32, _ body: (inout ReasonAccumulator) -> Void) {
        let index = Int(reason)
        if index >= byReason.count || !present[index] { grow(to: index) }
        byReason.withUnsafeMutableBufferPointer { body(&$0[index]) }
    }

    private mutating func grow(to index: Int) {
        while byReason.count <= index {
            byReason.append(ReasonAccumulator())
            present.append(false)
        }
        present[index] = true
    }

    mutating func add(_ other: ExitAccumulator) {
        for (reason, accumulator) in other.reasons {
            update(reason) { $0.add(accumulator) }
        }
    }

    var reasons: [(reason: UInt32, accumulator: ReasonAccumulator)] {
        byReason.indices.filter { present[$0] }.map { (UInt32($0), byReason[$0]) }
    }
}
