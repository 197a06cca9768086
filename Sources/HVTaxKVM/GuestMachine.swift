import CKVM

/// A ready-to-run guest: one VM, its 2 MB of memory with page tables, exception vectors and a
/// program loaded, and `vcpuCount` vCPUs placed at the program's entry.
public final class GuestMachine: Sendable {
    public let vm: KVMVirtualMachine
    public let memory: GuestMemory
    public let vcpus: [KVMVCPU]
    public let program: GuestProgram

    /// - Parameters:
    ///   - entry: the label every vCPU starts at.
    ///   - registers: per-vCPU register setup on top of the mode's defaults (long mode only).
    init(device: KVMDevice, program: GuestProgram, vcpuCount: Int, mode: GuestCPUMode, entry: String,
         registers: (Int, inout kvm_regs) -> Void = { _, _ in }) throws(KVMError)
    {
        guard (1...GuestLayout.maximumVCPUs).contains(vcpuCount) else {
            throw .invalidArgument("\(vcpuCount) vCPUs asked, hvtax's guest layout holds 1 to \(GuestLayout.maximumVCPUs)")
        }
        guard program.loadAddress == GuestLayout.code,
              program.bytes.count <= Int(GuestLayout.codeLimit - GuestLayout.code)
        else {
            throw .guestLayout("program of \(program.bytes.count) bytes at 0x\(String(program.loadAddress, radix: 16)) "
                + "does not fit the code area")
        }
        let vm = try device.createVirtualMachine()
        let memory = try vm.addMemory(slot: 0, guestPhysicalAddress: 0, size: GuestLayout.memorySize)
        try memory.write(program.bytes, at: program.loadAddress)
        if mode == .long64 {
            try memory.writeIdentityPageTables()
            try memory.writeExceptionVectors()
        }
        var vcpus: [KVMVCPU] = []
        for index in 0..<vcpuCount {
            let vcpu = try vm.createVCPU(id: index)
            switch mode {
            case .real:
                try vcpu.enterRealMode(at: program.address(of: entry))
            case .long64:
                try vcpu.enterLongMode(at: program.address(of: entry), stackTop: GuestLayout.stackTop(ofVCPU: index)) {
                    registers(index, &$0)
                }
            }
            vcpus.append(vcpu)
        }
        self.vm = vm
        self.memory = memory
        self.vcpus = vcpus
        self.program = program
    }
}
