import HVTaxModel

/// Decides how KVM runs guest code here, from what the CPU offers, which KVM modules are loaded,
/// and what the native-baseline loop revealed.
enum WorldDetector {
    /// The KVM modules under /sys/module (a built-in kvm_pvm shows there too).
    static func kvmModules() -> [String] {
        SystemFiles.entries(of: "/sys/module").filter { $0 == "kvm" || $0.hasPrefix("kvm_") }
    }

    /// - Parameters:
    ///   - baseline: the `guestInstructions` loop (4 adds per iteration, 6 instructions with the loop).
    static func detect(host: HostCPU, modules: [String], baseline: LoopMeanMeasurement?) -> VirtualizationWorld {
        var evidence: [String] = []
        evidence.append("CPU vendor \(host.vendorString); VMX \(host.hasVMX ? "present" : "absent"), "
            + "SVM \(host.hasSVM ? "present" : "absent") in this kernel's CPUID")
        if host.isGuest {
            evidence.append("CPUID hypervisor bit set (\(host.hypervisorSignature ?? "unknown")): this host is itself a guest")
        }
        evidence.append("KVM modules: \(modules.isEmpty ? "none found under /sys/module" : modules.joined(separator: ", "))")

        var cyclesPerInstruction: Double?
        var emulatedFraction: Double?
        if let baseline {
            let perIteration = 6.0  // add x4, dec, jne
            cyclesPerInstruction = baseline.cyclesPerIteration / perIteration
            if let executed = baseline.guestInstructionsExecuted, executed > 0 {
                let emulated = Double(baseline.kvmStatsDelta["insn_emulation"] ?? 0)
                emulatedFraction = emulated / Double(executed)
                evidence.append("baseline loop: \(executed) guest instructions executed, KVM's insn_emulation grew by "
                    + "\(Int64(emulated)) (\(percent(emulatedFraction!)))")
            }
            evidence.append("baseline loop: \(format(cyclesPerInstruction!)) host cycles per guest instruction")
        }

        if let emulatedFraction, emulatedFraction >= 0.9 {
            let backend = modules.contains("kvm_pvm") ? "kvm_pvm (paravirtual, nested)" : "a KVM without VMX/SVM"
            return VirtualizationWorld(
                kind: .emulating,
                summary: "KVM emulates every guest instruction in the host kernel (\(backend)): guest code runs at about "
                    + "\(format(cyclesPerInstruction ?? 0)) cycles per instruction instead of ~1, and an \"exit\" is one "
                    + "more emulated instruction. Exit costs here are not comparable with hardware VMX/SVM figures.",
                evidence: evidence, guestCyclesPerInstruction: cyclesPerInstruction,
                emulatedInstructionFraction: emulatedFraction)
        }
        let kind: VirtualizationWorld.Kind
        if host.hasVMX || modules.contains("kvm_intel") {
            kind = .hardwareVMX
        } else if host.hasSVM || modules.contains("kvm_amd") {
            kind = .hardwareSVM
        } else {
            kind = cyclesPerInstruction.map { $0 < 20 } == true ? (host.vendor == .intel ? .hardwareVMX : .hardwareSVM)
                : .unknown
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

    static func format(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(Double(Int(value * 10)) / 10)
    }

    static func percent(_ fraction: Double) -> String {
        String(Double(Int(fraction * 1000)) / 10) + "%"
    }
}
