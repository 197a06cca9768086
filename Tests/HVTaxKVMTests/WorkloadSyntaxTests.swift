import HVTaxModel
import Testing

@testable import HVTaxKVM

@Suite("Workload arguments")
struct WorkloadSyntaxTests {
    @Test("duty", arguments: [("75%", 0.75), ("90%", 0.9), ("0.5", 0.5), ("40", 0.4), ("0%", 0.0), ("100%", 1.0)])
    func duty(_ text: String, _ expected: Double) throws {
        #expect(try WorkloadSyntax.duty(text) == expected)
    }

    @Test("bad duty says what to write", arguments: ["150%", "-5%", "abc", ""])
    func badDuty(_ text: String) {
        #expect(throws: WorkloadPlanError.self) { try WorkloadSyntax.duty(text) }
    }

    @Test("durations", arguments: [("100ms", UInt64(100_000_000)), ("3m", 180_000_000_000), ("10s", 10_000_000_000),
                                   ("1.5s", 1_500_000_000), ("250us", 250_000), ("1h", 3_600_000_000_000), ("2", 2_000_000_000)])
    func durations(_ text: String, _ expected: UInt64) throws {
        #expect(try WorkloadSyntax.durationNs(text) == expected)
    }

    @Test("exit rates")
    func exitRates() throws {
        #expect(try WorkloadSyntax.exitRates("io:2000/s,mmio:500/s,cpuid:1000/s") == [.io: 2000, .mmio: 500, .cpuid: 1000])
        #expect(try WorkloadSyntax.exitRates("io:10") == [.io: 10])
        #expect(throws: WorkloadPlanError.self) { try WorkloadSyntax.exitRates("msr:5/s") }
    }

    @Test("the published experiment's schedule")
    func schedule() throws {
        #expect(try WorkloadSyntax.schedule("75%:3m,90%:3m") == [
            WorkloadPhase(duty: 0.75, durationNs: 180_000_000_000), WorkloadPhase(duty: 0.9, durationNs: 180_000_000_000),
        ])
    }

    @Test("exit pacing carries fractions: 15/s over 100 ms periods is exactly 15 per second")
    func pacing() {
        var pacer = ExitPacer(ratePerSecond: 15, periodNs: 100_000_000)
        let perPeriod = (0..<10).map { _ in pacer.nextPeriod() }
        #expect(perPeriod.reduce(0, +) == 15)
        #expect(Set(perPeriod) == [1, 2])
    }

    @Test("plans that cannot run are refused with the fix")
    func validation() {
        let phase = [WorkloadPhase(duty: 0.5, durationNs: 1_000_000_000)]
        #expect(throws: WorkloadPlanError.self) {
            try WorkloadPlan(vcpus: 0, periodNs: 100_000_000, phases: phase, exitRatesPerSecond: [:],
                             truthIntervalNs: 1_000_000_000, name: "x").validate()
        }
        #expect(throws: WorkloadPlanError.self) {
            try WorkloadPlan(vcpus: 1, periodNs: 2_000_000_000, phases: phase, exitRatesPerSecond: [:],
                             truthIntervalNs: 1_000_000_000, name: "x").validate()
        }
        #expect(VMMProcessIdentity.isValidName("web-01"))
        #expect(!VMMProcessIdentity.isValidName("a,b"))
    }
}

@Suite("KVM errors say what to do")
struct KVMErrorTests {
    @Test("a missing device", arguments: ["/nonexistent/kvm"])
    func missingDevice(_ path: String) {
        #expect(throws: KVMError.deviceMissing(path: path)) { _ = try KVMDevice(path: path) }
        #expect(KVMError.deviceMissing(path: path).description.contains("modprobe"))
    }

    @Test("each failure names its remedy", arguments: [
        (KVMError.permissionDenied(path: "/dev/kvm"), "kvm group"),
        (KVMError.virtualizationBusy(operation: "KVM_CREATE_VM", errno: 16), "another hypervisor"),
        (KVMError.outOfMemory(operation: "KVM_CREATE_VCPU"), "free memory"),
        (KVMError.apiVersionMismatch(found: 11, expected: 12), "stable KVM API"),
        (KVMError.missingCapability(name: "KVM_CAP_BINARY_STATS_FD"), "newer kernel"),
    ])
    func remedies(_ error: KVMError, _ hint: String) {
        #expect(error.description.contains(hint))
    }
}
