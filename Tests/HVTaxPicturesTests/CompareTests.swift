import Foundation
import HVTaxCompare
import HVTaxModel
import HVTaxPipeline
import HVTaxRender
import HVTaxTestSupport
import Testing

/// Comparisons of runs whose difference is known by construction: the same configuration with
/// other seeds (nothing should be significant), and exit handlers made 1.5x slower (the
/// kernel-handled reasons must come out significantly slower, and nothing else faster).
struct CompareTests {
    struct Bins: CustomTestStringConvertible, Sendable {
        var a: [UInt64]
        var b: [UInt64]
        var u: Double
        var effect: Double
        var testDescription: String { "\(a) vs \(b)" }
    }

    /// U counted by hand: pairs with b > a plus half of the ties.
    @Test(arguments: [
        Bins(a: [0, 5, 5], b: [5, 5, 0], u: 12.5, effect: 0.125),
        Bins(a: [4], b: [6], u: 12, effect: 0.5),
        Bins(a: [2, 0, 0], b: [0, 0, 3], u: 6, effect: 1),
        Bins(a: [1, 1, 1, 1], b: [1, 1, 1, 1], u: 8, effect: 0.5),
    ])
    func mannWhitneyCountsPairs(_ bins: Bins) throws {
        let result = try #require(RankTests.mannWhitney(binsA: bins.a, binsB: bins.b))
        #expect(result.u == bins.u)
        #expect(abs(result.effect - bins.effect) < 1e-12)
        if bins.effect == 0.5 { #expect(result.pValue > 0.9) }
    }

    @Test func mannWhitneyMatchesAReferenceValue() throws {
        // 40 vs 40 values in 4 bins. scipy 1.x: mannwhitneyu(b, a, method="asymptotic",
        // use_continuity=True) with the bins as values 0-3 gives U = 1212, p = 3.19294666616636e-05.
        let result = try #require(RankTests.mannWhitney(binsA: [10, 20, 8, 2], binsB: [2, 10, 18, 10]))
        #expect(result.u == 1212)
        #expect(abs(result.pValue - 3.19294666616636e-05) < 1e-9)
        #expect(RankTests.mannWhitney(binsA: [], binsB: [1]) == nil)
        #expect(RankTests.mannWhitney(binsA: [0, 3], binsB: [0, 4])?.pValue == 1)
    }

    static func report(seed: UInt64, scale: Double = 1, events: Int = 40_000) throws -> TraceReport {
        let (trace, _) = try Support.synthesize(seed: seed, events: events, handlerScale: scale)
        defer { try? FileManager.default.removeItem(atPath: trace) }
        return try TraceReportPipeline.run(paths: [trace])
    }

    @Test func sameConfigurationShowsNoSignificantDifference() throws {
        let comparison = try ReportComparator().compare(try Self.report(seed: 21), try Self.report(seed: 22))
        #expect(comparison.tests > 10)
        for row in [comparison.exits] + comparison.reasons {
            #expect(row.latencyTest != nil, "\(row.reason) tested")
            #expect(row.latencyTest?.significant == false, "\(row.reason): \(String(describing: row.latencyTest))")
            #expect(row.rateTest?.significant == false, "\(row.reason): \(String(describing: row.rateTest))")
        }
    }

    @Test func slowerHandlersAreSignificantlySlower() throws {
        let comparison = try ReportComparator().compare(try Self.report(seed: 21), try Self.report(seed: 23, scale: 1.5),
                                                        labels: ("fast", "slow"))
        let byReason = Dictionary(uniqueKeysWithValues: comparison.reasons.map { ($0.reason, $0) })
        // Handled on CPU in the kernel: the whole latency scales by 1.5.
        for reason in ["CPUID", "APIC_WRITE", "PAUSE_INSTRUCTION", "PF excp", "EXTERNAL_INTERRUPT"] {
            let row = try #require(byReason[reason])
            let test = try #require(row.latencyTest)
            #expect(test.significant && test.z > 0, "\(reason) slower: \(test)")
            #expect(test.effect > 0.6)
            #expect((row.p50Ratio ?? 0) > 1.2)
        }
        #expect(comparison.exits.latencyTest?.significant == true)
        // Nothing gets faster, and the rates (the mix of exits) do not change.
        for row in comparison.reasons {
            #expect(!(row.latencyTest?.significant == true && (row.latencyTest?.z ?? 0) < 0), "\(row.reason)")
            #expect(row.rateTest?.significant == false, "\(row.reason) rate")
        }
        #expect((comparison.split.taxB ?? 0) > (comparison.split.taxA ?? 1))
    }

    @Test func rendersAsTextJSONAndHTML() throws {
        let comparison = try ReportComparator().compare(try Self.report(seed: 21, events: 10_000), try Self.report(seed: 23, scale: 1.5, events: 10_000),
                                                        labels: ("pinned", "unpinned"))
        let text = ComparisonTextRenderer(style: TerminalStyle(colour: false)).render(comparison)
        #expect(text.contains("A pinned"))
        #expect(text.contains("B slower"))
        let json = try JSONRendering.render(comparison)
        let decoded = try JSONDecoder().decode(TraceComparison.self, from: Data(json.utf8))
        #expect(decoded == comparison)
        #expect(json.contains("\"schema\" : \"hvtax.trace-comparison/1\""))
        let html = ComparisonHTMLRenderer().render(comparison)
        #expect(html.contains("id=\"chart-cdf\"") && html.contains("id=\"chart-split\""))
        #expect(!html.contains("<script"))
    }

    /// 200 rounds of 200 µs: an OUT to COM1 that goes through the VMM and re-enters `outLatency` µs
    /// later, then `reads` INs from PCI config data handled in the kernel (10 µs each).
    static func accessTrace(outLatency: Int, reads: Int) throws -> TraceReport {
        var trace = VCPUTraceText()
        trace.at(0, "kvm_entry: vcpu 0, rip 0x1")
        let exit = "kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0"
        for round in 0..<200 {
            let t = 100 + round * 200
            trace.at(t, exit)
            trace.at(t + 1, "kvm_pio: pio_write at 0x3f8 size 1 count 1 val 0x41 ")
            trace.at(t + 2, "kvm_userspace_exit: reason KVM_EXIT_IO (2)")
            trace.at(t + 1 + outLatency, "kvm_entry: vcpu 0, rip 0x1")
            for read in 0..<reads {
                let r = t + 100 + read * 25
                trace.at(r, exit)
                trace.at(r + 1, "kvm_pio: pio_read at 0xcfc size 4 count 1 val 0x0 ")
                trace.at(r + 11, "kvm_entry: vcpu 0, rip 0x1")
            }
        }
        trace.at(100 + 200 * 200, exit)  // both traces end at the same time
        let path = FileManager.default.temporaryDirectory.path + "/hvtax-compare-io-\(getpid())-\(outLatency)-\(reads).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try trace.write(to: path)
        return try TraceReportPipeline.run(paths: [path])
    }

    @Test func portAndMMIOAddressesAreComparedInTheSameFamilyOfTests() throws {
        let a = try Self.accessTrace(outLatency: 30, reads: 1)
        let b = try Self.accessTrace(outLatency: 60, reads: 3)
        let comparison = try ReportComparator().compare(a, b, labels: ("before", "after"))
        let rows = try #require(comparison.accesses)
        #expect(rows.map(\.reason) == ["0xcfc:PIN", "0x3f8:POUT"])
        let out = rows[1], config = rows[0]
        // The OUT takes twice as long to come back; its rate is the same.
        #expect(out.countA == 200 && out.countB == 200)
        #expect(out.latencyTest?.significant == true && (out.latencyTest?.z ?? 0) > 0)
        #expect(abs((out.p50Ratio ?? 0) - 2) < 0.1)
        #expect(out.rateTest?.significant == false)
        // Three times the config reads at the same latency.
        #expect(config.countA == 200 && config.countB == 600)
        #expect(config.rateTest?.significant == true && abs((config.rateRatio ?? 0) - 3) < 0.01)
        #expect(config.latencyTest?.significant == false)
        // Every address row is a test of the family: 2 per reason/address row with data on both sides.
        #expect(comparison.tests == 2 * (1 + comparison.reasons.count + rows.count))
        let text = ComparisonTextRenderer(style: TerminalStyle(colour: false)).render(comparison)
        #expect(text.contains("Port I/O and MMIO"))
        #expect(ComparisonHTMLRenderer().render(comparison).contains("id=\"accesses\""))
        // Reports without access tables compare without one.
        #expect(try ReportComparator().compare(try Self.report(seed: 21, events: 3_000), try Self.report(seed: 22, events: 3_000)).accesses == nil)
    }

    @Test func refusesDifferentUnits() throws {
        let a = try Self.report(seed: 21, events: 3_000)
        var b = a
        b.clock = ClockInfo(unit: .ticks)
        #expect(throws: ReportComparator.ComparisonError.self) { try ReportComparator().compare(a, b) }
    }
}
