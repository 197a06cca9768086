import HVTaxMetrics
import HVTaxModel

/// One change of level of a watched figure, with the evidence behind it: what a command or a
/// webhook receives as JSON, and what the log says.
public struct ThresholdEvent: Codable, Sendable, Equatable {
    public var schema = "hvtax.threshold-event/1"
    /// `host` or `vm`.
    public var scope: String
    public var vm: String?
    public var pid: Int32?
    public var figure: WatchedFigure
    public var from: Level
    public var to: Level
    /// The figure in the interval that completed the change.
    public var value: Double
    /// The threshold of the level entered (rising) or of the level left (falling).
    public var threshold: Double
    /// Below this the level clears (threshold x (1 - hysteresis)).
    public var clearBelow: Double
    /// The figure over the intervals that led to the change, oldest first.
    public var recentValues: [Double]
    public var sequence: Int
    public var endUnixNs: UInt64
    public var evidence: Evidence

    public struct Evidence: Codable, Sendable, Equatable {
        /// The VM's full figures of the interval (per vCPU, VMM threads, cgroup).
        public var vm: VMFigures?
        public var hostCPU: HostCPUFigures?
        public var findings: [SnapshotFinding]
        public var noisyNeighbours: [NoisyNeighbour]
    }

    public var rising: Bool { to > from }

    /// Key for rate limits and state: `vm/web01/steal`, `host/tax`.
    public var key: String { [scope, vm, figure.rawValue].compactMap { $0 }.joined(separator: "/") }
}

/// Watches tax, steal and exit rates per VM and for the host over successive snapshots, with
/// hysteresis, and says when a level changes. No I/O: serve feeds it and acts on its events.
public struct ThresholdMonitor: Sendable {
    public var configuration: ThresholdConfiguration
    private var states: [String: FigureState] = [:]

    struct FigureState: Sendable {
        var level: Level = .ok
        var candidate: Level?
        var count = 0
        var recent: [Double] = []
    }

    public init(configuration: ThresholdConfiguration) {
        self.configuration = configuration
    }

    /// The current level of every watched figure: (scope, vm, figure) -> level.
    public var levels: [(scope: String, vm: String?, figure: WatchedFigure, level: Level)] {
        states.keys.sorted().compactMap { key in
            let parts = key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard let figure = WatchedFigure(rawValue: parts.last ?? ""), let state = states[key] else { return nil }
            return (parts[0], parts.count == 3 ? parts[1] : nil, figure, state.level)
        }
    }

    public mutating func evaluate(_ snapshot: HostSnapshot) -> [ThresholdEvent] {
        var events: [ThresholdEvent] = []
        var seen = Set<String>()
        let names = LiveMetrics.vmLabels(snapshot.vms)
        let host = snapshot.hostCPUs.first { $0.cpu == nil }
        for (vm, name) in zip(snapshot.vms, names) {
            let tax = VCPUStateSplit.tax(of: vm, intervalNs: snapshot.intervalNs)
            let values: [WatchedFigure: Double?] = [.tax: tax.ratio, .steal: vm.steal.ratio, .exitsPerSecond: vm.exitsPerSecond]
            for figure in WatchedFigure.allCases {
                let key = "vm/\(name)/\(figure.rawValue)"
                seen.insert(key)
                let evidence = ThresholdEvent.Evidence(
                    vm: vm, hostCPU: host, findings: snapshot.findings.filter { $0.vm == vm.name },
                    noisyNeighbours: snapshot.noisyNeighbours.filter { $0.victim == vm.name || $0.neighbour == vm.name })
                if let event = step(key: key, figure: figure, value: values[figure] ?? nil, snapshot: snapshot, scope: "vm",
                                    vm: name, pid: vm.pid, evidence: evidence) {
                    events.append(event)
                }
            }
        }
        // The host: all VMs together.
        var taxNs = 0.0, onCPUNs = 0.0, delayNs = 0.0, vcpus = 0.0
        var exits: Double?
        for vm in snapshot.vms {
            let t = VCPUStateSplit.tax(of: vm, intervalNs: snapshot.intervalNs)
            taxNs += t.taxNs
            onCPUNs += t.onCPUNs
            delayNs += Double(vm.vcpus.reduce(0) { $0 + $1.runDelayNs })
            vcpus += Double(vm.vcpus.count)
            if let e = vm.exitsPerSecond { exits = (exits ?? 0) + e }
        }
        let hostValues: [WatchedFigure: Double?] = [
            .tax: onCPUNs > 0 ? taxNs / onCPUNs : nil,
            .steal: vcpus > 0 ? delayNs / (Double(snapshot.intervalNs) * vcpus) : nil,
            .exitsPerSecond: exits,
        ]
        for figure in WatchedFigure.allCases {
            let key = "host/\(figure.rawValue)"
            seen.insert(key)
            let evidence = ThresholdEvent.Evidence(
                vm: nil, hostCPU: host, findings: snapshot.findings, noisyNeighbours: snapshot.noisyNeighbours)
            if let event = step(key: key, figure: figure, value: hostValues[figure] ?? nil, snapshot: snapshot, scope: "host",
                                vm: nil, pid: nil, evidence: evidence) {
                events.append(event)
            }
        }
        states = states.filter { seen.contains($0.key) }
        return events
    }

    private mutating func step(key: String, figure: WatchedFigure, value: Double?, snapshot: HostSnapshot, scope: String,
                               vm: String?, pid: Int32?, evidence: ThresholdEvent.Evidence) -> ThresholdEvent? {
        guard let pair = configuration.pair(figure), let value else { return nil }
        var state = states[key] ?? FigureState()
        defer { states[key] = state }
        state.recent = Array((state.recent + [value]).suffix(max(configuration.raiseAfter, configuration.clearAfter)))
        let keep = 1 - configuration.hysteresis
        let raw = pair.level(of: value)
        var target = state.level
        if raw > state.level {
            target = raw
        } else if state.level == .critical, value < pair.critical * keep {
            target = value >= pair.warning * keep ? .warning : .ok
        } else if state.level == .warning, value < pair.warning * keep {
            target = .ok
        }
        guard target != state.level else {
            state.candidate = nil
            state.count = 0
            return nil
        }
        if state.candidate == target { state.count += 1 } else {
            state.candidate = target
            state.count = 1
        }
        let needed = target > state.level ? configuration.raiseAfter : configuration.clearAfter
        guard state.count >= needed else { return nil }
        let from = state.level
        state.level = target
        state.candidate = nil
        state.count = 0
        let threshold = (target > from ? target : from) == .critical ? pair.critical : pair.warning
        return ThresholdEvent(
            scope: scope, vm: vm, pid: pid, figure: figure, from: from, to: target, value: value, threshold: threshold,
            clearBelow: threshold * keep, recentValues: state.recent, sequence: snapshot.sequence, endUnixNs: snapshot.endUnixNs,
            evidence: evidence)
    }
}
