import HVTaxMetrics

/// An SNMP object identifier as a list of arcs, ordered the way GETNEXT walks (arc by arc, a
/// prefix before its extensions).
public struct OID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var arcs: [UInt32]

    public init(_ arcs: [UInt32]) { self.arcs = arcs }

    /// `.1.3.6.1.3.4837.1.1.1.0` or without the leading dot; nil for anything else.
    public init?(_ text: String) {
        let trimmed = text.hasPrefix(".") ? text.dropFirst() : Substring(text)
        guard !trimmed.isEmpty else { return nil }
        var arcs: [UInt32] = []
        for part in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            guard let arc = UInt32(part) else { return nil }
            arcs.append(arc)
        }
        self.arcs = arcs
    }

    public var description: String { "." + arcs.map(String.init).joined(separator: ".") }

    public static func < (a: OID, b: OID) -> Bool { a.arcs.lexicographicallyPrecedes(b.arcs) }

    public func hasPrefix(_ other: OID) -> Bool { arcs.starts(with: other.arcs) }

    public static func + (base: OID, arcs: [UInt32]) -> OID { OID(base.arcs + arcs) }
}

/// A value as net-snmp's pass_persist protocol writes it: the type word and the value line.
public enum SNMPValue: Sendable, Equatable {
    case gauge32(UInt32)
    case counter64(UInt64)
    case integer32(Int32)
    case string(String)

    public var typeWord: String {
        switch self {
        case .gauge32: "gauge"
        case .counter64: "counter64"
        case .integer32: "integer"
        case .string: "string"
        }
    }

    public var valueText: String {
        switch self {
        case .gauge32(let v): String(v)
        case .counter64(let v): String(v)
        case .integer32(let v): String(v)
        // One line per value in the protocol: a name cannot carry a newline.
        case .string(let v): String(v.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        }
    }
}

/// The hvtax subtree of HVTAX-MIB (mibs/HVTAX-MIB.txt) built from the serve metric families:
///
///     hvtaxHost      base.1.1.{1 vmCount, 2 samples, 3 intervalMs, 4 lastSampleTime, 5 stealPpm, 6 guestPpm, 7 interrupts}.0
///     hvtaxVMTable   base.1.2.1.COLUMN.PID            (INDEX hvtaxVMPid)
///     hvtaxVCPUTable base.1.3.1.COLUMN.PID.VCPU       (INDEX hvtaxVMPid, hvtaxVCPUIndex)
///
/// SNMP has no floating point: ratios are Gauge32 in parts per million, times Counter64 in ms.
/// docs/export.md has the table of every object and the family it comes from.
public struct SNMPSubtree: Sendable, Equatable {
    /// `experimental.4837`: an unregistered number under the experimental arc (1.3.6.1.3), chosen
    /// for hvtax; sites that need a registered one use their own enterprise arc with `--base`.
    public static let defaultBase = OID([1, 3, 6, 1, 3, 4837])

    public private(set) var objects: [(oid: OID, value: SNMPValue)]

    public static func == (a: SNMPSubtree, b: SNMPSubtree) -> Bool {
        a.objects.count == b.objects.count && zip(a.objects, b.objects).allSatisfy { $0.oid == $1.oid && $0.value == $1.value }
    }

    public init(objects: [(oid: OID, value: SNMPValue)]) {
        self.objects = objects.sorted { $0.oid < $1.oid }
    }

    /// The subtree for one interval's families. `exitsPerSecond` gives each VM's exit rate (from the
    /// counter's change since the previous interval, see `SNMPExitRates`).
    public init(families: [MetricFamily], base: OID = SNMPSubtree.defaultBase, exitsPerSecond: [String: Double] = [:]) {
        typealias C = MetricCatalogue
        var objects: [(oid: OID, value: SNMPValue)] = []
        let host = base + [1, 1]
        func scalar(_ arc: UInt32, _ value: SNMPValue?) {
            if let value { objects.append((host + [arc, 0], value)) }
        }
        scalar(1, families[C.vms.name]?.value().flatMap(\.number).map { .gauge32(Self.clamp($0)) })
        scalar(2, families[C.samples.name]?.value().flatMap(\.number).map { .counter64(UInt64(max(0, $0))) })
        scalar(3, families[C.sampleInterval.name]?.value().flatMap(\.number).map { .gauge32(Self.clamp($0 * 1000)) })
        scalar(4, families[C.lastSample.name]?.value().flatMap(\.number).map { .gauge32(Self.clamp($0)) })
        scalar(5, families[C.hostCPU.name]?.value(["mode": "steal"]).flatMap(\.number).map { .gauge32(Self.ppm($0)) })
        scalar(6, families[C.hostCPU.name]?.value(["mode": "guest"]).flatMap(\.number).map { .gauge32(Self.ppm($0)) })
        scalar(7, families[C.hostInterrupts.name]?.value().flatMap(\.number).map { .counter64(UInt64(max(0, $0))) })

        // VMs by pid, from the info metric (labels vm, pid, kind, uuid).
        var pids: [String: UInt32] = [:]
        let vmEntry = base + [1, 2, 1]
        for sample in families[C.vm.name]?.samples ?? [] {
            guard sample.labelValues.count >= 3, let pid = UInt32(sample.labelValues[1]), pid <= UInt32(Int32.max) else { continue }
            let name = sample.labelValues[0]
            pids[name] = pid
            objects.append((vmEntry + [2, pid], .string(name)))
            objects.append((vmEntry + [3, pid], .string(sample.labelValues[2])))
        }
        func perVM(_ family: String, _ column: UInt32, _ make: (Double) -> SNMPValue) {
            for sample in families[family]?.samples ?? [] {
                guard let pid = pids[sample.labelValues[0]], let value = sample.value.number, value.isFinite else { continue }
                objects.append((vmEntry + [column, pid], make(value)))
            }
        }
        perVM(C.vmVCPUs.name, 4) { .gauge32(Self.clamp($0)) }
        perVM(C.vmTax.name, 5) { .gauge32(Self.ppm($0)) }
        perVM(C.vmSteal.name, 6) { .gauge32(Self.ppm($0)) }
        perVM(C.vmVMMOverhead.name, 7) { .gauge32(Self.ppm($0)) }
        // Exits: every reason of the VM summed (reason="all" where the source has no breakdown).
        var exits: [UInt32: Double] = [:]
        for sample in families[C.vmExits.name]?.samples ?? [] {
            if let pid = pids[sample.labelValues[0]], let value = sample.value.number { exits[pid, default: 0] += value }
        }
        for (pid, total) in exits { objects.append((vmEntry + [8, pid], .counter64(UInt64(max(0, total))))) }
        for (name, rate) in exitsPerSecond { if let pid = pids[name] { objects.append((vmEntry + [9, pid], .gauge32(Self.clamp(rate)))) } }
        // vCPU time by state, summed over the VM's vCPUs, in ms.
        var stateMs: [UInt32: [String: Double]] = [:]
        let vcpuEntry = base + [1, 3, 1]
        for sample in families[C.vcpuSeconds.name]?.samples ?? [] {
            guard let pid = pids[sample.labelValues[0]], let seconds = sample.value.number else { continue }
            stateMs[pid, default: [:]][sample.labelValues[2], default: 0] += seconds * 1000
            if sample.labelValues[2] == "steal", let vcpu = UInt32(sample.labelValues[1]) {
                objects.append((vcpuEntry + [4, pid, vcpu], .counter64(UInt64(max(0, seconds * 1000)))))
            }
        }
        for (pid, states) in stateMs {
            for (column, state) in [(UInt32(10), "steal"), (11, "guest"), (12, "hypervisor"), (13, "vmm")] {
                if let ms = states[state] { objects.append((vmEntry + [column, pid], .counter64(UInt64(max(0, ms))))) }
            }
        }
        for (family, column) in [(C.vcpuSteal.name, UInt32(2)), (C.vcpuOnCPU.name, 3)] {
            for sample in families[family]?.samples ?? [] {
                guard let pid = pids[sample.labelValues[0]], let vcpu = UInt32(sample.labelValues[1]),
                      let value = sample.value.number, value.isFinite else { continue }
                objects.append((vcpuEntry + [column, pid, vcpu], .gauge32(Self.ppm(value))))
            }
        }
        self.init(objects: objects)
    }

    /// The object at exactly this OID.
    public func get(_ oid: OID) -> SNMPValue? {
        var low = 0, high = objects.count
        while low < high {
            let mid = (low + high) / 2
            if objects[mid].oid < oid { low = mid + 1 } else { high = mid }
        }
        return low < objects.count && objects[low].oid == oid ? objects[low].value : nil
    }

    /// The first object after this OID (GETNEXT).
    public func next(after oid: OID) -> (oid: OID, value: SNMPValue)? {
        var low = 0, high = objects.count
        while low < high {
            let mid = (low + high) / 2
            if objects[mid].oid <= oid { low = mid + 1 } else { high = mid }
        }
        return low < objects.count ? objects[low] : nil
    }

    static func ppm(_ ratio: Double) -> UInt32 { clamp(ratio * 1_000_000) }

    static func clamp(_ value: Double) -> UInt32 {
        guard value.isFinite, value > 0 else { return 0 }
        return value >= Double(UInt32.max) ? UInt32.max : UInt32(value.rounded())
    }
}

/// Each VM's exit rate from its exits counter: the change since the previous interval over the
/// interval's length, the Gauge32 `hvtaxVMExitRate` (what `rate(hvtax_vm_exits_total[..])` gives).
public struct SNMPExitRates: Sendable {
    private var previous: [String: Double] = [:]

    public init() {}

    public mutating func update(_ families: [MetricFamily], intervalSeconds: Double) -> [String: Double] {
        var totals: [String: Double] = [:]
        for sample in families[MetricCatalogue.vmExits.name]?.samples ?? [] {
            if let value = sample.value.number { totals[sample.labelValues[0], default: 0] += value }
        }
        var rates: [String: Double] = [:]
        for (vm, total) in totals {
            if let before = previous[vm], total >= before, intervalSeconds > 0 { rates[vm] = (total - before) / intervalSeconds }
        }
        previous = totals
        return rates
    }
}
