import HVTaxEvents
import HVTaxModel

/// One address in one direction: a port read, an MMIO write, ...
struct DeviceAccessKey: Hashable {
    var space: DeviceAccessStats.Space
    var address: UInt64
    var write: Bool

    /// The key of a kvm_pio or kvm_mmio event.
    init?(_ event: TraceEvent) {
        switch event.kind {
        case .pio: space = .pio; address = UInt64(event.code)
        case .mmio: space = .mmio; address = event.value
        default: return nil
        }
        write = event.flags.contains(.write)
    }
}

/// Everything counted about the accesses at one key within one scope.
struct DeviceAccessCounts {
    var count: UInt64 = 0
    var throughVMM: UInt64 = 0
    var unfinished: UInt64 = 0
    var latency = LatencyRecorder()

    mutating func add(_ other: DeviceAccessCounts) {
        count += other.count
        throughVMM += other.throughVMM
        unfinished += other.unfinished
        latency.add(other.latency)
    }
}

/// A scope's accesses by key. A dictionary: unlike exit reasons, addresses are sparse (a PCI BAR
/// sits anywhere in 64 bits), and accesses are a small share of a trace's events.
struct DeviceAccessAccumulator {
    private(set) var byKey: [DeviceAccessKey: DeviceAccessCounts] = [:]

    var isEmpty: Bool { byKey.isEmpty }

    mutating func update(_ key: DeviceAccessKey, _ body: (inout DeviceAccessCounts) -> Void) {
        body(&byKey[key, default: DeviceAccessCounts()])
    }

    mutating func add(_ other: DeviceAccessAccumulator) {
        for (key, counts) in other.byKey { byKey[key, default: DeviceAccessCounts()].add(counts) }
    }

    /// Most time first (what costs the guest most), then most accesses, then by address.
    func stats(seconds: Double, knowsVMMPath: Bool) -> [DeviceAccessStats] {
        byKey.map { key, counts in
            DeviceAccessStats(
                space: key.space, address: key.address, direction: key.write ? .write : .read,
                device: WellKnownDevices.name(key.space, key.address), count: counts.count,
                ratePerSecond: seconds > 0 ? Double(counts.count) / seconds : 0,
                throughVMM: knowsVMMPath ? counts.throughVMM : nil, time: UInt64(counts.latency.sum),
                latency: counts.latency.summary, unfinished: counts.unfinished)
        }.sorted {
            ($0.time, $0.count, $1.space.rawValue, $1.address, $1.direction.rawValue)
                > ($1.time, $1.count, $0.space.rawValue, $0.address, $0.direction.rawValue)
        }
    }
}

/// The access a vCPU made in its current exit, until the next entry says what it cost.
struct OpenDeviceAccess {
    var key: DeviceAccessKey
    var time: UInt64
    /// A kvm_userspace_exit came after it: the VMM emulated it.
    var throughVMM = false
    /// An MMIO read KVM could not satisfy: its `read` record is the completion, not a new access.
    var awaitsReadCompletion: Bool
}
