import Foundation
import HVTaxModel
import HVTaxRender
import Testing

@testable import HVTaxKVM

extension LiveKVM {
    @Suite("Probe")
    struct ProbeSuite {
        @Test("a short pinned and unpinned probe: stats deltas exact, percentiles ordered, world stated")
        func shortProbe() throws {
            let samples = 400
            let report = try Probe.run(Probe.Options(samplesPerKind: samples, minimumLoopCycles: 1 << 22, pinCPU: 0))
            #expect(report.runs.count == 2)
            #expect(report.runs[1].cpusSeen == [0], "the pinned run stays on CPU 0")
            #expect(report.tsc.hz > 1e8)

            for run in report.runs {
                for measurement in run.measurements where measurement.status == .measured {
                    let cycles = try #require(measurement.cycles)
                    #expect(cycles.min <= cycles.p50 && cycles.p50 <= cycles.p90 && cycles.p90 <= cycles.p99
                                && cycles.p99 <= cycles.max, "\(measurement.kind) percentiles out of order")
                    #expect(measurement.histogram.reduce(0) { $0 + $1.count } == measurement.samples)
                    // The bins span the samples: the first holds the minimum, the last the maximum.
                    if let first = measurement.histogram.first, let last = measurement.histogram.last {
                        #expect(first.lowerCycles <= Double(cycles.min) && Double(cycles.min) < first.upperCycles)
                        #expect(last.lowerCycles <= Double(cycles.max) && Double(cycles.max) < last.upperCycles)
                    }
                    #expect(measurement.samples == samples)
                }
                // Exits to userspace of each kind, counted exactly by KVM during the tests.
                #expect(run.measurement(.mmio, .insideGuest)?.kvmStatsDelta["mmio_exits"] == Int64(samples))
                #expect(run.measurement(.mmio, .aroundKVMRun)?.kvmStatsDelta["mmio_exits"] == Int64(samples))
                #expect(run.measurement(.hlt, .insideGuest)?.kvmStatsDelta["halt_exits"] == Int64(samples))
                #expect(run.measurement(.hlt, .aroundKVMRun)?.kvmStatsDelta["halt_exits"] == Int64(samples))
                if report.world.kind == .emulating {
                    for measurement in run.measurements where measurement.vantage == .insideGuest && measurement.status == .measured {
                        #expect(measurement.kvmStatsDelta["insn_emulation"].map { UInt64($0) }
                                    == measurement.guestInstructionsExecuted, "\(measurement.kind) instruction count")
                    }
                }
            }

            // The world follows from the evidence: emulating exactly when insn_emulation counted the guest's code.
            let fraction = try #require(report.world.emulatedInstructionFraction)
            #expect((report.world.kind == .emulating) == (fraction >= 0.9))
            if report.world.kind == .emulating {
                let hypercall = try #require(report.runs[0].measurement(.hypercall, .insideGuest))
                print("HVTaxKVMTests: hypercall status \(hypercall.status): \(hypercall.unavailableReason ?? "-")")
            }
            #expect(!report.comparisons.isEmpty)

            let json = try ProbeReportRenderer.json(report)
            #expect(try JSONDecoder().decode(ProbeReport.self, from: Data(json.utf8)) == report)
            let text = ProbeReportRenderer.text(report, histograms: true)
            #expect(text.contains("World     \(report.world.kind.rawValue)"))
            #expect(text.contains("Placement side by side"))
            #expect(text.contains(report.tsc.source))
        }
    }
}

@Suite("Probe guest programs and sample summaries")
struct ProbeProgramTests {
    @Test("percentiles by nearest rank, quarter-octave bins that hold every sample")
    func summary() throws {
        let tsc = TSCFrequency(hz: 2e9, source: "test")
        // 1...100 plus an outlier; overhead 10 subtracted (clamped at 0).
        let summary = try #require(SampleSummary(samples: (1...100).map { UInt64($0) } + [100_000], overheadCycles: 10,
                                                 tsc: tsc))
        #expect(summary.cycles.count == 101)
        #expect(summary.cycles.min == 0)
        #expect(summary.cycles.p50 == 41)
        #expect(summary.cycles.p90 == 81)
        #expect(summary.cycles.p99 == 90)
        #expect(summary.cycles.max == 99_990)
        #expect(summary.ns.p50 == 21)  // 41 cycles at 2 GHz = 20.5 ns, rounded
        #expect(summary.histogram.reduce(0) { $0 + $1.count } == 101)
        #expect(summary.histogram.first?.lowerCycles == 0)
        let outlierBin = try #require(summary.histogram.last)
        #expect(outlierBin.count == 1 && outlierBin.lowerCycles <= 99_990 && 99_990 < outlierBin.upperCycles)
        // Bins 19% wide: neighbouring bounds differ by 2^(1/4).
        let bin = summary.histogram[summary.histogram.count / 2]
        #expect(abs(bin.upperCycles / bin.lowerCycles - 1.189_207) < 1e-5)
        #expect(summary.cycles.log2Buckets.reduce(0, +) == 101)
    }

    @Test("per-sample and loop instruction counts follow the code")
    func instructionCounts() throws {
        let bodies = ProbeBody.guestKinds(hypercall: .vmmcall)
        let program = try ProbeGuestProgram.build(bodies: bodies)
        for body in bodies {
            let sample = program.address(of: ProbeGuestProgram.sampleLabel(body.kind))
            let loop = program.address(of: ProbeGuestProgram.loopLabel(body.kind))
            let sampleCode = program.listing.filter { $0.address >= sample && $0.address < loop }
            // The loop body (everything up to the DONE write) runs once per iteration, DONE once.
            #expect(ProbeGuestProgram.sampleInstructions(body, iterations: 10) == UInt64(10 * (sampleCode.count - 1) + 1))
        }
    }
}
