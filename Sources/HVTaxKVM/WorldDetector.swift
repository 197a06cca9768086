import HVTaxHost
import HVTaxModel

/// Decides how KVM runs guest code here: the backend the host is configured with (the same verdict
/// `hvtax doctor` gives, from CPU flags and modules), checked against what the native-baseline
/// loop revealed (whether KVM counted every guest instruction as emulated).
enum WorldDetector {
    /// The KVM modules under /sys/module (a built-in kvm_pvm shows there too).
    static func kvmModules() -> [String] {
        ((try? HostFileSystem.live.list("/sys/module")) ?? []).filter { $0 == "kvm" || $0.hasPrefix("kvm_") }
    }

    /// The backend from /proc/cpuinfo flags and module state, as the doctor detects it.
    static func configuredBackend() -> KVMBackend {
        let host = HostEnvironment.live()
        let loaded = (try? host.procfs.loadedModules()) ?? nil
        return KVMBackend.detect(cpuFlags: (try? host.procfs.cpuInfo())?.flags ?? [],
                                 moduleState: { host.sysfs.moduleState($0, loadedModules: loaded) })
    }

    /// - Parameters:
    ///   - baseline: the `guestInstructions` samples: 4 adds per timed region, timer overhead
    ///     subtracted, with the instruction count the guest executed and KVM's statistics meanwhile.
    static func detect(host: HostCPU, backend: KVMBackend, modules: [String], baseline: ExitCostMeasurement?)
        -> VirtualizationWorld
    {
        var evidence: [String] = []
        evidence.append("CPU vendor \(host.vendorString); VMX \(host.hasVMX ? "present" : "absent"), "
            + "SVM \(host.hasSVM ? "present" : "absent") in this kernel's CPUID")
        if host.isGuest {
            evidence.append("CPUID hypervisor bit set (\(host.hypervisorSignature ?? "unknown")): this host is itself a guest")
        }
        evidence.append("KVM modules: \(modules.isEmpty ? "none found under /sys/module" : modules.joined(separator: ", "))"
            + "; configured backend: \(describe(backend))")

        var cyclesPerInstruction: Double?
        var emulatedFraction: Double?
        if let baseline, let p50 = baseline.cycles?.p50 {
            cyclesPerInstruction = Double(p50) / 4
            if let executed = baseline.guestInstructionsExecuted, executed > 0 {
                let emulated = Double(baseline.kvmStatsDelta["insn_emulation"] ?? 0)
                emulatedFraction = emulated / Double(executed)
                evidence.append("baseline: the guest executed \(executed) instructions, KVM's insn_emulation grew by "
                    + "\(Int64(emulated)) (\(percent(emulatedFraction!)))")
            }
            evidence.append("baseline: \(format(cyclesPerInstruction!)) cycles per guest instruction (p50 of 4 adds)")
        }

        if let emulatedFraction, emulatedFraction >= 0.9 {
            let name = backend.moduleName == nil ? "a KVM without VMX/SVM" : describe(backend)
            return VirtualizationWorld(
                kind: .emulating,
                summary: "KVM emulates every guest instruction in the host kernel (\(name)): guest code runs at about "
                    + "\(format(cyclesPerInstruction ?? 0)) cycles per instruction instead of ~1, and an \"exit\" is one "
                    + "more emulated instruction. Exit costs here are not comparable with hardware VMX/SVM figures.",
                evidence: evidence, guestCyclesPerInstruction: cyclesPerInstruction,
                emulatedInstructionFraction: emulatedFraction)
        }
        let kind: VirtualizationWorld.Kind
        switch backend {
        case .intelVMX: kind = .hardwareVMX
        case .amdSVM: kind = .hardwareSVM
        case .paravirtual, .none:
            // Not emulating, yet no VMX/SVM flag: trust the CPUID bits this process sees, else the speed.
            if host.hasVMX { kind = .hardwareVMX } else if host.hasSVM { kind = .hardwareSVM } else {
                kind = cyclesPerInstruction.map { $0 < 20 } == true ? (host.vendor == .intel ? .hardwareVMX : .hardwareSVM)
                    : .unknown
            }
        }
        let name = kind == .hardwareVMX ? "Intel VT-x (VMX)" : kind == .hardwareSVM ? "AMD-V (SVM)" : "an unknown mechanism"
        var summary = "Guest code runs natively under \(name); exits are hardware VM exits handled by KVM."
        if host.isGuest {
            summary += " This host is itself a guest: KVM runs nested, and every exit also goes through the outer "
                + "hypervisor, so expect costs well above bare-metal figures."
        }
        return VirtualizationWorld(kind: kind, summary: summary, evidence: evidence,
                                   guestCyclesPerInstruction: cyclesPerInstruction,
                                   emulatedInstructionFraction: emulatedFraction)
    }

    static func describe(_ backend: KVMBackend) -> String {
        switch backend {
        case .intelVMX: "Intel VT-x (kvm_intel)"
        case .amdSVM: "AMD-V (kvm_amd)"
        case .paravirtual(let module): "paravirtual \(module)"
        case .none: "none"
        }
    }

    static func format(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(Double(Int(value * 10)) / 10)
    }

    static func percent(_ fraction: Double) -> String {
        String(Double(Int(fraction * 1000)) / 10) + "%"
    }
}
