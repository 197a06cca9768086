/// libtraceevent's kvm plugin (`plugins/plugin_kvm.c`, loaded by `trace-cmd report` and by perf
/// when it finds the plugin) prints kvm_exit from its own tables, not the kernel's print format
/// (trace-formats.md section 3): every SVM reason as `EXIT_NPF`, `EXIT_IOIO`, `EXIT_EXCP_PF`..., and
/// VMX 7 as `PENDING_INTERRUPT`. Read with these names, an AMD trace's exits had no ISA, so no rule
/// knew its nested page faults, port I/O or halts. These tables turn the plugin's names back into
/// the kernel's. Copied from the plugin's VMX_EXIT_REASONS and SVM_EXIT_REASONS; the names Debian's
/// plugin_kvm.so holds are the same 91 (`TraceCmdReasonNameTests` checks them against trace-cmd).
extension ExitReasonTable {
    /// The plugin's SVM names and the exit codes they stand for (`EXIT_ERR` is -1 as a u32).
    static let libtraceeventSVM: [String: UInt32] = [
        "EXIT_READ_CR0": 0x0,
        "EXIT_READ_CR3": 0x3,
        "EXIT_READ_CR4": 0x4,
        "EXIT_READ_CR8": 0x8,
        "EXIT_WRITE_CR0": 0x10,
        "EXIT_WRITE_CR3": 0x13,
        "EXIT_WRITE_CR4": 0x14,
        "EXIT_WRITE_CR8": 0x18,
        "EXIT_READ_DR0": 0x20,
        "EXIT_READ_DR1": 0x21,
        "EXIT_READ_DR2": 0x22,
        "EXIT_READ_DR3": 0x23,
        "EXIT_READ_DR4": 0x24,
        "EXIT_READ_DR5": 0x25,
        "EXIT_READ_DR6": 0x26,
        "EXIT_READ_DR7": 0x27,
        "EXIT_WRITE_DR0": 0x30,
        "EXIT_WRITE_DR1": 0x31,
        "EXIT_WRITE_DR2": 0x32,
        "EXIT_WRITE_DR3": 0x33,
        "EXIT_WRITE_DR4": 0x34,
        "EXIT_WRITE_DR5": 0x35,
        "EXIT_WRITE_DR6": 0x36,
        "EXIT_WRITE_DR7": 0x37,
        "EXIT_EXCP_DE": 0x40,
        "EXIT_EXCP_DB": 0x41,
        "EXIT_EXCP_BP": 0x43,
        "EXIT_EXCP_OF": 0x44,
        "EXIT_EXCP_BR": 0x45,
        "EXIT_EXCP_UD": 0x46,
        "EXIT_EXCP_NM": 0x47,
        "EXIT_EXCP_DF": 0x48,
        "EXIT_EXCP_TS": 0x4a,
        "EXIT_EXCP_NP": 0x4b,
        "EXIT_EXCP_SS": 0x4c,
        "EXIT_EXCP_GP": 0x4d,
        "EXIT_EXCP_PF": 0x4e,
        "EXIT_EXCP_MF": 0x50,
        "EXIT_EXCP_AC": 0x51,
        "EXIT_EXCP_MC": 0x52,
        "EXIT_EXCP_XF": 0x53,
        "EXIT_INTR": 0x60,
        "EXIT_NMI": 0x61,
        "EXIT_SMI": 0x62,
        "EXIT_INIT": 0x63,
        "EXIT_VINTR": 0x64,
        "EXIT_CR0_SEL_WRITE": 0x65,
        "EXIT_IDTR_READ": 0x66,
        "EXIT_GDTR_READ": 0x67,
        "EXIT_LDTR_READ": 0x68,
        "EXIT_TR_READ": 0x69,
        "EXIT_IDTR_WRITE": 0x6a,
        "EXIT_GDTR_WRITE": 0x6b,
        "EXIT_LDTR_WRITE": 0x6c,
        "EXIT_TR_WRITE": 0x6d,
        "EXIT_RDTSC": 0x6e,
        "EXIT_RDPMC": 0x6f,
        "EXIT_PUSHF": 0x70,
        "EXIT_POPF": 0x71,
        "EXIT_CPUID": 0x72,
        "EXIT_RSM": 0x73,
        "EXIT_IRET": 0x74,
        "EXIT_SWINT": 0x75,
        "EXIT_INVD": 0x76,
        "EXIT_PAUSE": 0x77,
        "EXIT_HLT": 0x78,
        "EXIT_INVLPG": 0x79,
        "EXIT_INVLPGA": 0x7a,
        "EXIT_IOIO": 0x7b,
        "EXIT_MSR": 0x7c,
        "EXIT_TASK_SWITCH": 0x7d,
        "EXIT_FERR_FREEZE": 0x7e,
        "EXIT_SHUTDOWN": 0x7f,
        "EXIT_VMRUN": 0x80,
        "EXIT_VMMCALL": 0x81,
        "EXIT_VMLOAD": 0x82,
        "EXIT_VMSAVE": 0x83,
        "EXIT_STGI": 0x84,
        "EXIT_CLGI": 0x85,
        "EXIT_SKINIT": 0x86,
        "EXIT_RDTSCP": 0x87,
        "EXIT_ICEBP": 0x88,
        "EXIT_WBINVD": 0x89,
        "EXIT_MONITOR": 0x8a,
        "EXIT_MWAIT": 0x8b,
        "EXIT_MWAIT_COND": 0x8c,
        "EXIT_XSETBV": 0x8d,
        "EXIT_NPF": 0x400,
        "EXIT_AVIC_INCOMPLETE_IPI": 0x401,
        "EXIT_AVIC_UNACCELERATED_ACCESS": 0x402,
        "EXIT_ERR": 0xffff_ffff,
    ]

    /// The plugin's VMX names that differ from the kernel's (the rest are the kernel's own).
    static let libtraceeventVMX: [String: UInt32] = [
        "PENDING_INTERRUPT": 7,
    ]

    /// The kernel's name for a reason as libtraceevent's plugin printed it (`EXIT_NPF` -> `npf`);
    /// nil when `name` is no plugin name, or its code has no name in the kernel's table
    /// (`EXIT_MWAIT_COND`), which then stays as printed.
    public static func kernelName(ofPluginName name: String) -> String? {
        if let code = libtraceeventSVM[name] { return svm[code] }
        if let code = libtraceeventVMX[name] { return vmx[code] }
        return nil
    }
}
