import Foundation
import HVTaxAdvice
import HVTaxModel
import HVTaxRender
import Testing

/// Every rule of the shipped rules file, on reports built to land just above and just below each
/// threshold: one row per case, the expected level or no finding.
@Suite struct RuleTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var rule: String
        var expected: Level?
        var advice: @Sendable (Advisor) -> Advice

        var testDescription: String { "\(rule): \(name) -> \(expected?.rawValue ?? "no finding")" }
    }

    static let advisor: Advisor = try! Advisor.standard()

    static func trace(_ name: String, _ rule: String, _ expected: Level?, _ report: TraceReport) -> Case {
        Case(name: name, rule: rule, expected: expected, advice: { $0.advise(report) })
    }

    static func snapshot(_ name: String, _ rule: String, _ expected: Level?, _ snapshot: HostSnapshot) -> Case {
        Case(name: name, rule: rule, expected: expected, advice: { $0.advise(snapshot) })
    }

    static func capture(_ name: String, _ rule: String, _ expected: Level?, _ report: CaptureReport) -> Case {
        Case(name: name, rule: rule, expected: expected, advice: { $0.advise(report) })
    }

    static func validation(_ name: String, _ rule: String, _ expected: Level?, _ validation: AccountingValidation) -> Case {
        Case(name: name, rule: rule, expected: expected, advice: { $0.advise(validation) })
    }

    static func snapshotValidated(_ name: String, _ rule: String, _ expected: Level?, _ validation: AccountingValidation) -> Case {
        Case(name: name, rule: rule, expected: expected, advice: { $0.advise(Build.snapshot(), validation: validation) })
    }

    static func vmmPath(_ ns: UInt64, count: UInt64 = 1000) -> PathStats {
        var path = PathStats()
        path.count = count
        path.hypervisorTime = ns / 4
        path.vmmTime = ns - ns / 4
        return path
    }

    static let ms: UInt64 = 1_000_000

    static let cases: [Case] = [
        // Trace: shares are of 1 s of vCPU on-CPU time, so 60 ms is 6%.
        trace("VMM path 6%", "io-exits-through-vmm", .critical,
              Build.trace(exits: [.init(reason: "IO_INSTRUCTION", count: 1000, hypervisorNs: 15 * ms, vmmNs: 45 * ms)], vmmPath: vmmPath(60 * ms))),
        trace("VMM path 3%", "io-exits-through-vmm", .warning,
              Build.trace(exits: [.init(reason: "EPT_MISCONFIG", count: 1000, hypervisorNs: 5 * ms, vmmNs: 25 * ms)], vmmPath: vmmPath(30 * ms))),
        trace("I/O through the VMM 6% is not kernel-path I/O", "io-exits", nil,
              Build.trace(exits: [.init(reason: "IO_INSTRUCTION", count: 1000, hypervisorNs: 15 * ms, vmmNs: 45 * ms)], vmmPath: vmmPath(60 * ms))),
        trace("VMM path 1.9%", "io-exits-through-vmm", nil,
              Build.trace(exits: [.init(reason: "IO_INSTRUCTION", count: 1000, hypervisorNs: 4 * ms, vmmNs: 15 * ms)], vmmPath: vmmPath(19 * ms))),
        trace("port I/O in the kernel 5.1%", "io-exits", .critical,
              Build.trace(exits: [.init(reason: "IO_INSTRUCTION", count: 50_000, hypervisorNs: 51 * ms)])),
        trace("SVM io + MMIO 2.5%", "io-exits", .warning,
              Build.trace(exits: [.init(reason: "io", count: 1000, hypervisorNs: 10 * ms), .init(reason: "EPT_MISCONFIG", count: 1000, hypervisorNs: 15 * ms)])),
        trace("port I/O 1.5%", "io-exits", nil,
              Build.trace(exits: [.init(reason: "IO_INSTRUCTION", count: 1000, hypervisorNs: 15 * ms)])),
        trace("EPT violations 3%", "ept-violations", .warning,
              Build.trace(exits: [.init(reason: "EPT_VIOLATION", count: 3000, hypervisorNs: 30 * ms)])),
        trace("NPT faults 8%", "ept-violations", .critical,
              Build.trace(exits: [.init(reason: "npf", count: 3000, hypervisorNs: 80 * ms)])),
        trace("EPT violations 1%", "ept-violations", nil,
              Build.trace(exits: [.init(reason: "EPT_VIOLATION", count: 3000, hypervisorNs: 10 * ms)])),
        trace("external interrupts 6%", "external-interrupts-on-vcpu-cpus", .critical,
              Build.trace(exits: [.init(reason: "EXTERNAL_INTERRUPT", count: 20_000, hypervisorNs: 60 * ms)])),
        trace("external interrupts 1.9%", "external-interrupts-on-vcpu-cpus", nil,
              Build.trace(exits: [.init(reason: "interrupt", count: 20_000, hypervisorNs: 19 * ms)])),
        trace("halt polling 3%", "halt-polling", .warning,
              Build.trace(exits: [.init(reason: "HLT", count: 1000, hypervisorNs: 30 * ms)], haltedNs: 1_000_000_000)),
        trace("25k HLT/s per vCPU", "halt-polling", .critical,
              Build.trace(exits: [.init(reason: "hlt", count: 50_000, hypervisorNs: 1 * ms)], haltedNs: 1_000_000_000)),
        trace("HLT 4k/s, 1% polling", "halt-polling", nil,
              Build.trace(exits: [.init(reason: "HLT", count: 8000, hypervisorNs: 10 * ms)], haltedNs: 1_000_000_000)),
        trace("PAUSE 2k/s", "pause-loop-exits", .warning,
              Build.trace(exits: [.init(reason: "PAUSE_INSTRUCTION", count: 2000, hypervisorNs: 5 * ms)])),
        trace("PAUSE 6%", "pause-loop-exits", .critical,
              Build.trace(exits: [.init(reason: "pause", count: 500, hypervisorNs: 60 * ms)])),
        trace("PAUSE 500/s 1%", "pause-loop-exits", nil,
              Build.trace(exits: [.init(reason: "PAUSE_INSTRUCTION", count: 500, hypervisorNs: 10 * ms)])),
        trace("MSR writes 3%", "msr-timer-exits", .warning,
              Build.trace(exits: [.init(reason: "MSR_WRITE", count: 30_000, hypervisorNs: 30 * ms)])),
        trace("preemption timer + APIC 5.5%", "msr-timer-exits", .critical,
              Build.trace(exits: [.init(reason: "PREEMPTION_TIMER", count: 10_000, hypervisorNs: 25 * ms),
                                  .init(reason: "APIC_WRITE", count: 10_000, hypervisorNs: 30 * ms)])),
        trace("MSR 1%", "msr-timer-exits", nil,
              Build.trace(exits: [.init(reason: "MSR_WRITE", count: 10_000, hypervisorNs: 10 * ms)])),
        trace("steal 12%", "steal-preemption", .critical, Build.trace(preemptedNs: 136_363_637)),
        trace("steal 6%", "steal-preemption", .warning, Build.trace(preemptedNs: 63_829_788)),
        trace("steal 4%", "steal-preemption", nil, Build.trace(preemptedNs: 41_666_667)),
        trace("2M emulated/s", "emulated-instructions", .critical, Build.trace(emulatedInstructions: 2_000_000)),
        trace("20k emulated/s", "emulated-instructions", .warning, Build.trace(emulatedInstructions: 20_000)),
        trace("5k emulated/s", "emulated-instructions", nil, Build.trace(emulatedInstructions: 5_000)),
        trace("throttled while recording", "host-throttled", .warning, Build.trace(throttling: Build.throttling(.throttled, events: 12))),
        trace("not throttled", "host-throttled", nil, Build.trace(throttling: Build.throttling(.notThrottled))),
        trace("CPUs at 60%", "host-clocked-down", .warning, Build.trace(throttling: Build.throttling(.notThrottled, minFrequencyRatio: 0.6))),
        trace("CPUs at 40%", "host-clocked-down", .critical, Build.trace(throttling: Build.throttling(.notThrottled, minFrequencyRatio: 0.4))),
        trace("CPUs at 90%", "host-clocked-down", nil, Build.trace(throttling: Build.throttling(.notThrottled, minFrequencyRatio: 0.9))),

        // Snapshot.
        snapshot("VMM overhead 12%", "io-exits-through-vmm", .critical, Build.snapshot(vmmOverhead: 0.12)),
        snapshot("VMM overhead 6%", "io-exits-through-vmm", .warning, Build.snapshot(vmmOverhead: 0.06)),
        snapshot("VMM overhead 4%", "io-exits-through-vmm", nil, Build.snapshot(vmmOverhead: 0.04)),
        snapshot("storm 20k/s on its CPUs", "external-interrupts-on-vcpu-cpus", .critical,
                 Build.snapshot(storms: [Build.storm(perSecond: 20_000, cpus: [1])])),
        snapshot("storm 5k/s on its CPUs", "external-interrupts-on-vcpu-cpus", .warning,
                 Build.snapshot(storms: [Build.storm(perSecond: 5_000, cpus: [0])])),
        snapshot("storm on other CPUs", "external-interrupts-on-vcpu-cpus", nil,
                 Build.snapshot(storms: [Build.storm(perSecond: 50_000, cpus: [2, 3])])),
        snapshot("VM steal 7%", "steal-preemption", .warning, Build.snapshot(vmSteal: 0.07, vcpuSteal: [0.07, 0.07])),
        snapshot("one vCPU at 11%", "steal-preemption", .critical, Build.snapshot(vmSteal: 0.055, vcpuSteal: [0.11, 0.0])),
        snapshot("steal 4%", "steal-preemption", nil, Build.snapshot(vmSteal: 0.04, vcpuSteal: [0.04, 0.04])),
        // Rates from kvm tracepoint counters, per VM of 2 vCPUs: halved per vCPU-second.
        snapshot("12k HLT/s per vCPU", "halt-polling", .warning, Build.snapshot(exitReasons: ["kvm_exit:HLT": 24_000])),
        snapshot("4k HLT/s per vCPU", "halt-polling", nil, Build.snapshot(exitReasons: ["kvm_exit:HLT": 8_000])),
        snapshot("30k PAUSE/s per vCPU", "pause-loop-exits", .critical, Build.snapshot(exitReasons: ["kvm_exit:PAUSE_INSTRUCTION": 60_000])),
        snapshot("500 pause/s per vCPU", "pause-loop-exits", nil, Build.snapshot(exitReasons: ["kvm_exit:pause": 1_000])),
        snapshot("25k userspace exits/s per vCPU", "io-exits-through-vmm", .critical,
                 Build.snapshot(exitReasons: ["kvm_userspace_exit": 50_000, "kvm_userspace_exit:IO": 50_000])),
        snapshot("2k userspace exits/s per vCPU", "io-exits-through-vmm", nil, Build.snapshot(exitReasons: ["kvm_userspace_exit": 4_000])),
        snapshot("3M emulated/s per vCPU", "emulated-instructions", .critical, Build.snapshot(exitReasons: ["kvm_emulate_insn": 6_000_000])),
        snapshot("host stolen 20%", "host-itself-a-guest", .critical, Build.snapshot(hostSteal: 0.2)),
        snapshot("host stolen 1%", "host-itself-a-guest", nil, Build.snapshot(hostSteal: 0.01)),
        snapshot("guest time missing", "emulated-instructions", .warning, Build.snapshot(findings: [.guestTimeMissing])),
        snapshot("guest time moves", "emulated-instructions", nil, Build.snapshot(findings: [])),
        snapshot("ticks missing", "untrusted-accounting", .warning, Build.snapshot(findings: [.tickAccountingMissing])),
        snapshot("guest time missing", "untrusted-accounting", .warning, Build.snapshot(findings: [.guestTimeMissing])),
        snapshot("sources agree", "untrusted-accounting", nil, Build.snapshot(findings: [])),
        snapshot("throttled", "host-throttled", .warning, Build.snapshot(throttling: Build.throttling(.throttled, events: 3))),
        snapshot("not throttled", "host-throttled", nil, Build.snapshot(throttling: Build.throttling(.notThrottled))),
        snapshot("CPUs at 70%", "host-clocked-down", .warning, Build.snapshot(throttling: Build.throttling(.notThrottled, minFrequencyRatio: 0.7))),
        snapshot("CPUs at 85%", "host-clocked-down", nil, Build.snapshot(throttling: Build.throttling(.notThrottled, minFrequencyRatio: 0.85))),

        // Accounting validation (hvtax validate, and each live interval).
        validation("guest-time not trustworthy, 100% off", "untrusted-accounting", .critical,
                   Build.validation(verdict: .notTrustworthy, discrepancy: 1.0, state: .disagrees)),
        validation("guest-time 30% off", "untrusted-accounting", .warning,
                   Build.validation(verdict: .notTrustworthy, discrepancy: 0.3, state: .disagrees)),
        validation("all sources agree", "untrusted-accounting", nil,
                   Build.validation(verdict: .trustworthy, discrepancy: 0.01, state: .agrees)),
        snapshotValidated("live interval, guest-time untrusted", "untrusted-accounting", .critical,
                          Build.validation(verdict: .notTrustworthy, discrepancy: 0.9, state: .disagrees)),
        snapshotValidated("live interval, sources agree", "untrusted-accounting", nil,
                          Build.validation(verdict: .trustworthy, discrepancy: 0.0, state: .agrees)),

        // Captures: per-vCPU means.
        capture("%RDY 12%", "steal-preemption", .critical, Build.capture(kind: .esxtop, steal: 0.12)),
        capture("%RDY 3%", "steal-preemption", nil, Build.capture(kind: .esxtop, steal: 0.03)),
        capture("wait per dispatch 70 µs", "steal-preemption", .critical, Build.capture(steal: 0.01, values: [.dispatchWait: 70_000])),
        capture("wait per dispatch 12 µs", "steal-preemption", .warning, Build.capture(steal: 0.01, values: [.dispatchWait: 12_000])),
        capture("wait per dispatch 8 µs", "steal-preemption", nil, Build.capture(steal: 0.01, values: [.dispatchWait: 8_000])),
        capture("%CSTP 5%", "co-stop", .warning, Build.capture(kind: .esxtop, values: [.coStop: 0.05])),
        capture("%CSTP 2%", "co-stop", nil, Build.capture(kind: .esxtop, values: [.coStop: 0.02])),
        capture("%MLMTD 2%", "cpu-limit", .critical, Build.capture(kind: .esxtop, values: [.maxLimited: 0.02])),
        capture("%MLMTD 0", "cpu-limit", nil, Build.capture(kind: .esxtop, values: [.maxLimited: 0])),
        capture("IO 20k/s x 3 µs = 6%", "io-exits-through-vmm", .critical,
                Build.capture(values: [.ioInstructions: 20_000, .ioInstructionCost: 3_000])),
        capture("IO 10k/s x 1 µs = 1%", "io-exits-through-vmm", nil,
                Build.capture(values: [.ioInstructions: 10_000, .ioInstructionCost: 1_000])),
        capture("IO 25k/s, no cost", "io-exits", .critical, Build.capture(values: [.ioInstructions: 25_000])),
        capture("IO 4k/s, no cost", "io-exits", nil, Build.capture(values: [.ioInstructions: 4_000])),
        capture("MSR 30k/s x 1 µs = 3%", "msr-timer-exits", .warning,
                Build.capture(values: [.msrAccesses: 30_000, .msrAccessCost: 1_000])),
        capture("MSR 10k/s x 1 µs = 1%", "msr-timer-exits", nil,
                Build.capture(values: [.msrAccesses: 10_000, .msrAccessCost: 1_000])),
        capture("LP hardware interrupts 60k/s", "external-interrupts-on-vcpu-cpus", .critical,
                Build.capture(lpValues: [.hardwareInterrupts: 60_000])),
        capture("LP hardware interrupts 5k/s", "external-interrupts-on-vcpu-cpus", nil,
                Build.capture(lpValues: [.hardwareInterrupts: 5_000])),
    ]

    @Test(arguments: cases)
    func rule(_ row: Case) throws {
        let advice = row.advice(Self.advisor)
        let found = advice.findings.filter { $0.rule == row.rule }
        guard let expected = row.expected else {
            #expect(found.isEmpty, "unexpected: \(found.map { AdviceTextRenderer.threshold($0.threshold) })")
            return
        }
        // One finding per scope (the untrusted-accounting rule may fire for the host and a VM).
        #expect(Set(found.map(\.scope)).count == found.count)
        let finding = try #require(found.max { $0.level < $1.level })
        #expect(finding.level == expected)
        for finding in found {
            // The finding cites the threshold it crossed, and that threshold really is crossed.
            let t = finding.threshold
            #expect(t.level == finding.level)
            #expect(t.direction == .above ? t.value > t.limit : t.value < t.limit)
            #expect(finding.evidence.first?.figure == t.figure)
            #expect(!finding.cause.isEmpty && !finding.remedy.isEmpty && !finding.references.isEmpty)
        }
    }

    /// A new rule in the file without a row above fails here.
    @Test func everyRuleHasCasesAboveAndBelow() throws {
        let rules = Set(try RuleBook.standard().rules.map(\.id))
        let crossed = Set(Self.cases.filter { $0.expected != nil }.map(\.rule))
        let clear = Set(Self.cases.filter { $0.expected == nil }.map(\.rule))
        #expect(rules.subtracting(crossed).isEmpty, "rules never crossed in a test: \(rules.subtracting(crossed).sorted())")
        #expect(rules.subtracting(clear).isEmpty, "rules never left uncrossed in a test: \(rules.subtracting(clear).sorted())")
        #expect(crossed.union(clear).subtracting(rules).isEmpty)
    }
}
