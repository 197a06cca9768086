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
    private(set) var byReason: [ReasonAccumulator?] = []

    subscript(reason: UInt32) -> ReasonAccumulator {
        get {
            let index = Int(reason)
            return index < byReason.count ? byReason[index] ?? ReasonAccumulator() : ReasonAccumulator()
        }
        set {
            let index = Int(reason)
            if index >= byReason.count { byReason.append(contentsOf: repeatElement(nil, count: index + 1 - byReason.count)) }
            byReason[index] = newValue
        }
    }

    /// Mutates in place (no copy of the histogram): the hot path of every exit.
    mutating func update(_ reason: UInt32, _ body: (inout ReasonAccumulator) -> Void) {
        let index = Int(reason)
        if index >= byReason.count { byReason.append(contentsOf: repeatElement(nil, count: index + 1 - byReason.count)) }
        if byReason[index] == nil { byReason[index] = ReasonAccumulator() }
        body(&byReason[index]!)
    }

    mutating func add(_ other: ExitAccumulator) {
        for (reason, accumulator) in other.byReason.enumerated() {
            guard let accumulator else { continue }
            update(UInt32(reason)) { $0.add(accumulator) }
        }
    }

    var reasons: [(reason: UInt32, accumulator: ReasonAccumulator)] {
        byReason.enumerated().compactMap { index, value in value.map { (UInt32(index), $0) } }
    }
}
