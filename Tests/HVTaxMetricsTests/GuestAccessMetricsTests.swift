import HVTaxModel
import Testing

@testable import HVTaxMetrics

@Suite("hvtax_guest_accesses from a trace's port I/O and MMIO table")
struct GuestAccessMetricsTests {
    static func access(_ port: UInt64, count: UInt64, throughVMM: UInt64?) -> DeviceAccessStats {
        DeviceAccessStats(space: .pio, address: port, direction: .write, device: WellKnownDevices.name(.pio, port), count: count,
                          ratePerSecond: 0, throughVMM: throughVMM, time: 0, latency: .empty, unfinished: 0)
    }

    @Test("each address split by path; without userspace exits the path is unknown, not guessed")
    func paths() {
        let samples = TraceMetrics.accessSamples([Self.access(0x3f8, count: 10, throughVMM: 7)], label: "web")
        #expect(samples == [MetricSample(["web", "0x3f8:POUT", "COM1", "vmm"], 7), MetricSample(["web", "0x3f8:POUT", "COM1", "kernel"], 3)])
        let unknown = TraceMetrics.accessSamples([Self.access(0x99, count: 4, throughVMM: nil)], label: "web")
        #expect(unknown == [MetricSample(["web", "0x99:POUT", "", "unknown"], 4)])
    }

    @Test("only the 32 busiest addresses of a VM become series")
    func bounded() {
        // Ports 0x1000...0x1027 with counts 1...40: the 32 busiest are counts 9...40.
        let accesses = (0..<40).map { Self.access(0x1000 + UInt64($0), count: UInt64($0 + 1), throughVMM: nil) }
        let samples = TraceMetrics.accessSamples(accesses, label: "web")
        #expect(samples.count == TraceMetrics.accessesPerVM)
        #expect(Set(samples.map { UInt64($0.labelValues[1].dropFirst(2).prefix { $0 != ":" }, radix: 16)! })
                == Set((0x1008...0x1027).map { UInt64($0) }))
    }
}
