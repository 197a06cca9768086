/// Which kind of KVM a host offers. It decides what a trace can show: on VT-x and AMD-V every exit
/// is a kvm_exit/kvm_entry pair; with the paravirtual backend (kvm_pvm, used when the host is itself
/// a guest without nested VT-x/AMD-V) the host kernel emulates guest code and those two
/// tracepoints never fire, so only exits to userspace (kvm_userspace_exit, kvm_pio, kvm_mmio) show.
public enum KVMBackend: Sendable, Equatable {
    case intelVMX
    case amdSVM
    case paravirtual(module: String)
    case none

    /// The module that implements this backend.
    public var moduleName: String? {
        switch self {
        case .intelVMX: "kvm_intel"
        case .amdSVM: "kvm_amd"
        case .paravirtual(let module): module
        case .none: nil
        }
    }

    public var firesExitTracepoints: Bool {
        switch self {
        case .intelVMX, .amdSVM: true
        case .paravirtual, .none: false
        }
    }

    /// Paravirtual KVM modules known to hvtax.
    public static let paravirtualModules = ["kvm_pvm"]

    /// CPU flags first (a host with vmx uses kvm_intel even if a paravirtual module is also there),
    /// then a paravirtual module that is loaded or built in.
    public static func detect(cpuFlags: Set<String>, moduleState: (String) -> ModuleState) -> KVMBackend {
        if cpuFlags.contains("vmx") { return .intelVMX }
        if cpuFlags.contains("svm") { return .amdSVM }
        if let module = paravirtualModules.first(where: { moduleState($0) != .absent }) {
            return .paravirtual(module: module)
        }
        return .none
    }
}
