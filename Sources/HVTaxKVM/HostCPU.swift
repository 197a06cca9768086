import CKVM

/// What the host CPU says about itself through CPUID.
public struct HostCPU: Sendable {
    public enum Vendor: String, Sendable {
        case intel = "GenuineIntel"
        case amd = "AuthenticAMD"
        case hygon = "HygonGenuine"
        case other
    }

    public let vendorString: String
    public let brand: String
    /// CPUID.1:ECX[5]: VT-x offered to this kernel.
    public let hasVMX: Bool
    /// CPUID.80000001h:ECX[2]: AMD-V offered to this kernel.
    public let hasSVM: Bool
    /// CPUID.1:ECX[31]: this "host" is itself a guest of some hypervisor.
    public let isGuest: Bool
    /// CPUID.40000000h signature when `isGuest` (e.g. "KVMKVMKVM", "Microsoft Hv", "VMwareVMware").
    public let hypervisorSignature: String?
    /// CPUID.40000000h:EAX, the highest hypervisor leaf.
    public let maximumHypervisorLeaf: UInt32

    public var vendor: Vendor { Vendor(rawValue: vendorString) ?? .other }

    /// The hypercall instruction the host CPU's vendor implements: VMMCALL on AMD and Hygon,
    /// VMCALL elsewhere. KVM rewrites the other one, which would measure the rewrite instead.
    public var hypercallMnemonic: String { vendor == .amd || vendor == .hygon ? "vmmcall" : "vmcall" }

    public static func cpuid(_ leaf: UInt32, _ subleaf: UInt32 = 0) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        var out: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        withUnsafeMutablePointer(to: &out) {
            $0.withMemoryRebound(to: UInt32.self, capacity: 4) { ckvm_cpuid(leaf, subleaf, $0) }
        }
        return (out.0, out.1, out.2, out.3)
    }

    static func ascii(_ registers: [UInt32]) -> String {
        var bytes: [UInt8] = []
        for register in registers {
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8((register >> UInt32(shift)) & 0xFF)) }
        }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingSpaces()
    }

    public static func current() -> HostCPU {
        let leaf0 = cpuid(0)
        let vendor = ascii([leaf0.ebx, leaf0.edx, leaf0.ecx])
        let leaf1 = cpuid(1)
        let maxExtended = cpuid(0x8000_0000).eax
        let extended1ECX = maxExtended >= 0x8000_0001 ? cpuid(0x8000_0001).ecx : 0
        var brand = ""
        if maxExtended >= 0x8000_0004 {
            let parts = (0x8000_0002...0x8000_0004).map { cpuid(UInt32($0)) }
            brand = ascii(parts.flatMap { [$0.eax, $0.ebx, $0.ecx, $0.edx] })
        }
        let isGuest = leaf1.ecx & (1 << 31) != 0
        var signature: String?
        var maxHypervisorLeaf: UInt32 = 0
        if isGuest {
            let hypervisor = cpuid(0x4000_0000)
            maxHypervisorLeaf = hypervisor.eax
            signature = ascii([hypervisor.ebx, hypervisor.ecx, hypervisor.edx])
        }
        return HostCPU(vendorString: vendor, brand: brand, hasVMX: leaf1.ecx & (1 << 5) != 0,
                       hasSVM: extended1ECX & (1 << 2) != 0, isGuest: isGuest, hypervisorSignature: signature,
                       maximumHypervisorLeaf: maxHypervisorLeaf)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}
