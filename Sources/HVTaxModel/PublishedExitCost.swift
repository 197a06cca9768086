/// A published measurement of what a VM exit costs: the anchors `hvtax probe` compares with.
public struct PublishedExitCost: Codable, Sendable, Equatable {
    public var source: String
    public var cpu: String
    public var measured: String
    public var lowCycles: Double
    public var highCycles: Double
    /// The probe kind it anchors, when one matches.
    public var comparableKind: ProbeKind?

    public init(source: String, cpu: String, measured: String, lowCycles: Double, highCycles: Double,
                comparableKind: ProbeKind?) {
        self.source = source
        self.cpu = cpu
        self.measured = measured
        self.lowCycles = lowCycles
        self.highCycles = highCycles
        self.comparableKind = comparableKind
    }

    public var middleCycles: Double { (lowCycles + highCycles) / 2 }

    /// The table of the reference (docs/sources.md, "Published exit costs").
    public static let anchors: [PublishedExitCost] = [
        PublishedExitCost(source: "blog \"The Cost of Virtualization Exits\" (VMExit-Delay)", cpu: "i7-3960X, pinned",
                          measured: "KVM VMCALL round trip", lowCycles: 1600, highCycles: 1700, comparableKind: .hypercall),
        PublishedExitCost(source: "kvm-unit-tests vmexit cpuid, kvm list 2024", cpu: "recent Intel",
                          measured: "cpuid (>1600 with mitigations)", lowCycles: 1018, highCycles: 1110,
                          comparableKind: .cpuid),
        PublishedExitCost(source: "kvm list 2019-2020", cpu: "Skylake server", measured: "vmexit.flat vmcall",
                          lowCycles: 1530, highCycles: 1800, comparableKind: .hypercall),
        PublishedExitCost(source: "kvm list 2020", cpu: "Skylake-SP", measured: "vmexit.flat ipi",
                          lowCycles: 3200, highCycles: 4240, comparableKind: nil),
        PublishedExitCost(source: "bare-VMX loop (vmlatency results)", cpu: "Sandy Bridge / Haswell / Skylake / Cascade Lake",
                          measured: "VMRESUME+cpuid exit", lowCycles: 518, highCycles: 833, comparableKind: .cpuid),
        PublishedExitCost(source: "SplitX paper", cpu: "Nehalem", measured: "direct cost of an exit",
                          lowCycles: 2000, highCycles: 2000, comparableKind: nil),
        PublishedExitCost(source: "AMD, kvm list 2020", cpu: "Zen", measured: "KVM_RUN to userspace and back",
                          lowCycles: 2550, highCycles: 2550, comparableKind: .portIO),
    ]
}
