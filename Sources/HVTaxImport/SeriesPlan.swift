import HVTaxModel

/// One input of a series: `Σ coefficient × cell` over some columns of a row, counted only when every
/// one of those cells has a value (esxtop's guest share is %RUN − %OVRLP of the same sample).
struct SeriesTerm {
    var weight: Double
    var parts: [(column: Int, coefficient: Double)]
}

/// What the importer computes from each row: a list of series, each the weighted mean of the terms
/// that have values in that row. A term per vCPU gives a VM's per-vCPU mean; a term per VM weighted
/// by its vCPU count gives the host's. Flat arrays, built once from the header, so the per-row work
/// is a few loads and multiply-adds per used cell whatever the number of columns.
struct SeriesPlan {
    /// slot -> header column (0-based among counter columns); a column read by several series is one slot.
    private(set) var slotColumns: [Int] = []
    private var slotOfColumn: [Int: Int] = [:]
    fileprivate(set) var termStart: [Int] = [0]
    fileprivate(set) var termWeights: [Double] = []
    fileprivate(set) var partStart: [Int] = [0]
    fileprivate(set) var partSlots: [Int] = []
    fileprivate(set) var partCoefficients: [Double] = []

    var seriesCount: Int { termStart.count - 1 }

    private mutating func slot(for column: Int) -> Int {
        if let slot = slotOfColumn[column] { return slot }
        let slot = slotColumns.count
        slotColumns.append(column)
        slotOfColumn[column] = slot
        return slot
    }

    /// Adds a series and returns its index; nil when it has no terms (the counter is not captured).
    mutating func add(_ terms: [SeriesTerm]) -> Int? {
        let usable = terms.filter { !$0.parts.isEmpty && $0.weight > 0 }
        guard !usable.isEmpty else { return nil }
        for term in usable {
            termWeights.append(term.weight)
            for part in term.parts {
                partSlots.append(slot(for: part.column))
                partCoefficients.append(part.coefficient)
            }
            partStart.append(partSlots.count)
        }
        termStart.append(termWeights.count)
        return seriesCount - 1
    }
}

/// Per series: count, sum, min and max of its per-row values. Fixed size: memory does not grow with
/// the number of samples.
struct SeriesStats {
    private(set) var count: [UInt64]
    private(set) var sum: [Double]
    private(set) var minimum: [Double]
    private(set) var maximum: [Double]

    init(seriesCount: Int) {
        count = Array(repeating: 0, count: seriesCount)
        sum = Array(repeating: 0, count: seriesCount)
        minimum = Array(repeating: .infinity, count: seriesCount)
        maximum = Array(repeating: -.infinity, count: seriesCount)
    }

    /// Folds one row in; `slots` holds each slot's cell value, NaN where the cell was blank.
    mutating func add(row slots: UnsafeBufferPointer<Double>, plan: SeriesPlan) {
        plan.termStart.withUnsafeBufferPointer { termStart in
        plan.termWeights.withUnsafeBufferPointer { termWeights in
        plan.partStart.withUnsafeBufferPointer { partStart in
        plan.partSlots.withUnsafeBufferPointer { partSlots in
        plan.partCoefficients.withUnsafeBufferPointer { partCoefficients in
            for series in 0..<(termStart.count - 1) {
                var weighted = 0.0
                var weights = 0.0
                for term in termStart[series]..<termStart[series + 1] {
                    var value = 0.0
                    var complete = true
                    for part in partStart[term]..<partStart[term + 1] {
                        let cell = slots[partSlots[part]]
                        if cell.isNaN {
                            complete = false
                            break
                        }
                        value += partCoefficients[part] * cell
                    }
                    if complete {
                        weighted += termWeights[term] * value
                        weights += termWeights[term]
                    }
                }
                guard weights > 0 else { continue }
                let value = weighted / weights
                count[series] += 1
                sum[series] += value
                if value < minimum[series] { minimum[series] = value }
                if value > maximum[series] { maximum[series] = value }
            }
        }
        }
        }
        }
        }
    }

    func value(_ series: Int?) -> SampledValue? {
        guard let series, count[series] > 0 else { return nil }
        return SampledValue(mean: sum[series] / Double(count[series]), min: minimum[series],
                            max: maximum[series], samples: count[series])
    }
}

/// Where a processor's figures come from: series indices per figure.
struct CPULayout {
    var instance: String
    var index: Int?
    var series: [CaptureFigure: Int] = [:]
}

/// A VM, the logical processors, or the root partition.
struct GroupLayout {
    var name: String
    var groupID: String?
    var cpuCount: Int?
    var series: [CaptureFigure: Int] = [:]
    var cpus: [CPULayout] = []
    /// Logical processors have no steal and are rated by the LP run-time rule instead.
    var isLogicalProcessors = false
}

struct HostLayout {
    var name: String
    var series: [CaptureFigure: Int] = [:]
    var vms: [GroupLayout] = []
    var logicalProcessors: GroupLayout?
    var root: GroupLayout?
}

/// What a mapper makes of a header: the plan, the layout of hosts, VMs and processors over it,
/// and which figures the capture can give.
struct CaptureLayout {
    var kind: CaptureKind
    var plan = SeriesPlan()
    var hosts: [HostLayout] = []
    var figures: [FigureAvailability] = []
    var quality = CaptureQuality()
}

/// Turns series statistics into the report's hosts, rating every figure that has a threshold.
struct CaptureRater {
    var kind: CaptureKind
    var thresholds: CaptureThresholds
    var stats: SeriesStats

    /// Rates a ratio made of percent counters (a group's %RDY 20 over 2 vCPUs times 0.01 is
    /// 0.09999999999999999): snapped to 12 decimals, far below any counter's precision, so a figure
    /// that reads exactly at a threshold gets the threshold's level.
    func rated(_ ratio: Double?, _ pair: ThresholdPair) -> RatedRatio {
        RatedRatio(ratio.map { ($0 * 1e12).rounded() / 1e12 }, against: pair)
    }

    func values(_ series: [CaptureFigure: Int]) -> [CaptureFigure: SampledValue] {
        var values: [CaptureFigure: SampledValue] = [:]
        for (figure, index) in series {
            if let value = stats.value(index) { values[figure] = value }
        }
        return values
    }

    /// The trace report's tax: (hypervisor + vmm) / (guest + hypervisor + vmm), with vmm where the
    /// hypervisor counts it. Without guest and hypervisor shares there is no tax, not a zero one.
    func tax(_ values: [CaptureFigure: SampledValue]) -> RatedRatio {
        guard let guest = values[.guest]?.mean, let hypervisor = values[.hypervisor]?.mean else {
            return rated(nil, thresholds.tax)
        }
        let vmm = values[.vmm]?.mean ?? 0
        let onCPU = guest + hypervisor + vmm
        return rated(onCPU > 0 ? (hypervisor + vmm) / onCPU : nil, thresholds.tax)
    }

    func levels(_ values: [CaptureFigure: SampledValue], logicalProcessors: Bool) -> [CaptureFigure: Level] {
        var levels: [CaptureFigure: Level] = [:]
        if logicalProcessors {
            if let run = values[.totalRun] { levels[.totalRun] = thresholds.lpTotalRunRatio.level(of: run.mean) }
            return levels
        }
        for (figure, value) in values {
            if let rule = thresholds.rule(for: figure, kind: kind) { levels[figure] = rule.level(of: value.mean) }
        }
        return levels
    }

    func cpu(_ layout: CPULayout, logicalProcessor: Bool) -> CaptureCPU {
        let values = values(layout.series)
        return CaptureCPU(instance: layout.instance, index: layout.index, values: values, tax: tax(values),
                          steal: rated(logicalProcessor ? nil : values[.preempted]?.mean, thresholds.steal),
                          levels: levels(values, logicalProcessors: logicalProcessor))
    }

    func group(_ layout: GroupLayout) -> CaptureCPUGroup {
        let values = values(layout.series)
        let lp = layout.isLogicalProcessors
        return CaptureCPUGroup(
            name: layout.name, groupID: layout.groupID, cpuCount: layout.cpuCount, values: values,
            tax: tax(values), steal: rated(lp ? nil : values[.preempted]?.mean, thresholds.steal),
            levels: levels(values, logicalProcessors: lp),
            cpus: layout.cpus.map { cpu($0, logicalProcessor: lp) })
    }

    func host(_ layout: HostLayout) -> CaptureHost {
        let values = values(layout.series)
        let vms = layout.vms.map(group)
        let lps = layout.logicalProcessors.map(group)
        let root = layout.root.map(group)
        var rootShare: Double?
        // Only per processor: `_Total` of the LPs is a mean, of the root VPs a sum, so the two do not divide.
        if let lps, let root, !lps.cpus.isEmpty, !root.cpus.isEmpty {
            let lpRun = lps.cpus.compactMap { $0.values[.totalRun]?.mean }.reduce(0, +)
            let rootRun = root.cpus.compactMap { $0.values[.totalRun]?.mean }.reduce(0, +)
            if lpRun > 0, lps.cpus.allSatisfy({ $0.values[.totalRun] != nil }) { rootShare = rootRun / lpRun }
        }
        return CaptureHost(
            name: layout.name, vmCount: vms.count, vcpuCount: vms.reduce(0) { $0 + ($1.cpuCount ?? $1.cpus.count) },
            values: values, tax: tax(values), steal: rated(values[.preempted]?.mean, thresholds.steal),
            levels: levels(values, logicalProcessors: false), vms: vms, logicalProcessors: lps, root: root,
            rootShareOfRunTime: rootShare)
    }
}
