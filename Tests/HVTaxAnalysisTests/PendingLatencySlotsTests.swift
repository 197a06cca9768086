import Foundation
import Histogram
import HVTaxModel
import Testing
@testable import HVTaxAnalysis

/// Each exit's latency slot is counted a few exits of its vCPU later (`PendingLatencySlots`): the
/// report must still count every latency, also those of the last exits before the trace ends.
@Suite("pending latency slots")
struct PendingLatencySlotsTests {
    @Test("the queue hands back each slot depth pushes later, and drains the rest oldest first")
    func queueOrder() {
        var queue = PendingLatencySlots()
        var due: [(reason: UInt32, slot: Int)] = []
        for n in 0..<(PendingLatencySlots.depth + 3) {
            if let slot = queue.push(reason: UInt32(n % 3), slot: 1000 + n) { due.append(slot) }
        }
        #expect(due.map(\.slot) == [1000, 1001, 1002])
        #expect(due.map(\.reason) == [0, 1, 2])
        let rest = queue.drain()
        #expect(rest.map(\.slot) == Array(1003..<(1003 + PendingLatencySlots.depth)))
        #expect(rest.map(\.reason) == (3..<(3 + PendingLatencySlots.depth)).map { UInt32($0 % 3) })
        #expect(queue.drain().isEmpty)
    }

    /// Two vCPUs, `exits` exits each, alternating between two reasons, with latencies spread over
    /// four octaves; the expected figures come from HdrHistogram's own `Histogram` fed the same
    /// latencies, not from the recorder.
    @Test("every exit's latency is counted, with fewer exits than the queue holds and with more", arguments: [1, 3, 4, 5, 9, 40])
    func everyLatencyCounted(exits: Int) throws {
        var lines = ["# tracer: nop", "#"]
        var latencies: [Int32: [String: [UInt64]]] = [:]
        var time: UInt64 = 10_000_000_000
        func line(_ tid: Int32, _ cpu: Int, _ text: String) {
            let seconds = String(format: "%d.%06d", time / 1_000_000_000, time / 1000 % 1_000_000)
            lines.append(" CPU \(tid - 3001)/KVM-\(tid) ( 3000) [00\(cpu)] ..... \(seconds): \(text)")
        }
        for n in 0..<exits {
            for tid: Int32 in [3001, 3002] {
                let reason = n % 2 == 0 ? "HLT" : "EPT_VIOLATION"
                line(tid, Int(tid - 3001), "kvm_exit: reason \(reason) rip 0x1000 info 0 0")
                // Microseconds, so the text's timestamps carry them exactly: 1 to 17 us.
                let latency = UInt64(1 + (n * 7 + Int(tid)) % 17) * 1000
                time += latency
                line(tid, Int(tid - 3001), "kvm_entry: vcpu \(tid - 3001)")
                latencies[tid, default: [:]][reason, default: []].append(latency)
                time += 3000
            }
        }
        let report = try traceReport(ofText: lines.joined(separator: "\n") + "\n")
        for tid: Int32 in [3001, 3002] {
            let vcpu = try #require(report.vms.flatMap(\.vcpus).first { $0.tid == tid })
            for (reason, values) in latencies[tid]! {
                let stats = try #require(vcpu.exits.byReason.first { $0.reason == reason })
                var reference = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 1 << 20,
                                                  numberOfSignificantValueDigits: .two)
                var log2 = [UInt64](repeating: 0, count: 64)
                for value in values {
                    reference.record(value)
                    log2[63 - value.leadingZeroBitCount] += 1
                }
                func percentile(_ p: Double) -> UInt64 { min(values.max()!, max(values.min()!, reference.valueAtPercentile(p))) }
                #expect(stats.latency.count == UInt64(values.count), "\(reason) of \(tid)")
                #expect(stats.latency.min == values.min()! && stats.latency.max == values.max()!)
                #expect([stats.latency.p50, stats.latency.p90, stats.latency.p99] == [percentile(50), percentile(90), percentile(99)],
                        "\(reason) of \(tid), \(exits) exits")
                #expect(stats.latency.log2Buckets == Array(log2[...log2.lastIndex { $0 > 0 }!]), "\(reason) of \(tid), \(exits) exits")
            }
        }
    }
}
