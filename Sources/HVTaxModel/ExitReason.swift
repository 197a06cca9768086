/// The virtualization extension a reason name or number belongs to.
public enum ISA: String, Codable, Sendable {
    /// Intel VT-x: reason names are upper case (`EPT_VIOLATION`).
    case vmx
    /// AMD-V: reason names are lower case, exceptions contain a space (`PF excp`).
    case svm
    /// Not decidable (a bare number with no `isa` field).
    case unknown
}

/// How an exit came back to the guest, the three paths that explain where exit time goes.
public enum ExitPath: String, Codable, Sendable, CaseIterable {
    /// VM -> host kernel -> VM: KVM handled it without leaving the kernel.
    case kernel
    /// A `kvm_userspace_exit` in the exit window: the userspace VMM had to handle it.
    case vmm
    /// An external interrupt caused it (EXTERNAL_INTERRUPT / `interrupt`, or an IRQ in the window).
    case interrupt
}

/// Exit reason names and numbers for VMX and SVM, and the facts the analysis needs about them.
public enum ExitReasonTable {
    /// VMX stores FAILED_VMENTRY in bit 31 of the exit reason; the basic reason is the low 16 bits.
    public static let vmxFailedEntryBit: UInt32 = 0x8000_0000

    /// The name the kernel prints for `code`, or `UNKNOWN (code)` as libtraceevent prints it.
    public static func name(code: UInt32, isa: ISA) -> String {
        switch isa {
        case .vmx: vmx[code & 0xffff] ?? "UNKNOWN (\(code & 0xffff))"
        case .svm: svm[code] ?? "UNKNOWN (\(code))"
        case .unknown: "UNKNOWN (\(code))"
        }
    }

    /// Which table a printed name comes from: VMX names are upper case, SVM names lower case.
    public static func isa(ofName name: String) -> ISA {
        if vmxNames.contains(name) { return .vmx }
        if svmNames.contains(name) { return .svm }
        return .unknown
    }

    /// True when the name is not in either table (`UNKNOWN (N)`, a bare number, a future reason).
    public static func isKnown(_ name: String) -> Bool {
        vmxNames.contains(name) || svmNames.contains(name)
    }

    /// Exits caused by an external interrupt arriving while the guest ran.
    public static func isInterrupt(_ name: String) -> Bool {
        name == "EXTERNAL_INTERRUPT" || name == "interrupt"
    }

    /// Exits after which a blocked vCPU is idle, not waiting for a CPU.
    public static func isHalt(_ name: String) -> Bool {
        name == "HLT" || name == "hlt" || name == "idle-halt"
    }

    private static let vmxNames = Set(vmx.values)
    private static let svmNames = Set(svm.values)
}
