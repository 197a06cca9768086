import CKVM

/// The CPU mode a vCPU starts its guest program in.
public enum GuestCPUMode: Sendable {
    /// 16-bit real mode, CS base 0: the program must sit below 64 KB.
    case real
    /// 64-bit long mode with paging, identity mapped through 2 MB pages, no GDT in memory.
    case long64
}

extension GuestMemory {
    /// Page tables identity-mapping [0, 8 MB) with 2 MB pages (PML4 -> PDPT -> PD with PS).
    func writeIdentityPageTables() throws(KVMError) {
        let presentWritable: UInt64 = 0x3
        let largePage: UInt64 = 0x80
        try store(GuestLayout.pdpt | presentWritable, at: GuestLayout.pml4)
        try store(GuestLayout.pageDirectory | presentWritable, at: GuestLayout.pdpt)
        for index in 0..<GuestLayout.mappedLargePages {
            try store(UInt64(index) << 21 | largePage | presentWritable,
                      at: GuestLayout.pageDirectory + UInt64(index) * 8)
        }
    }

    /// A GDT and an IDT whose every vector runs a stub that reports the vector on the exception
    /// port and halts: a guest bug becomes a readable exit instead of a triple fault (SHUTDOWN).
    func writeExceptionVectors() throws(KVMError) {
        // null; code: present, DPL 0, execute/read, L=1, G=1; data: present, read/write, D/B=1, G=1.
        try store(0, at: GuestLayout.gdt)
        try store(0x00AF_9A00_0000_FFFF, at: GuestLayout.gdt + 8)
        try store(0x00CF_9200_0000_FFFF, at: GuestLayout.gdt + 16)
        for vector in 0..<256 {
            let stub = GuestLayout.exceptionStubs + UInt64(vector) * 8
            // mov al, vector; out exceptionPort, al; hlt; nop; nop  (8 bytes)
            let code = X86Instruction.movALImmediate(UInt8(vector)).bytes
                + X86Instruction.outImmediate(port: GuestLayout.exceptionPort).bytes
                + X86Instruction.hlt.bytes + X86Instruction.nop.bytes + X86Instruction.nop.bytes
            try write(code, at: stub)
            // 64-bit interrupt gate: offset 0-15, selector 8, IST 0, type 0xE present DPL 0, offset 16-63.
            var gate = [UInt8](repeating: 0, count: 16)
            gate[0] = UInt8(stub & 0xFF)
            gate[1] = UInt8((stub >> 8) & 0xFF)
            gate[2] = 8
            gate[5] = 0x8E
            gate[6] = UInt8((stub >> 16) & 0xFF)
            gate[7] = UInt8((stub >> 24) & 0xFF)
            try write(gate, at: GuestLayout.idt + UInt64(vector) * 16)
        }
    }
}

extension KVMVCPU {
    /// Real mode at `entry`: CS base and selector 0, RFLAGS with only the reserved bit 1.
    func enterRealMode(at entry: UInt64) throws(KVMError) {
        var sregs = try specialRegisters()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        try setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = entry
        regs.rflags = 2
        try setRegisters(regs)
    }

    /// 64-bit long mode at `entry` with the identity page tables, GDT and exception IDT already in
    /// guest memory. Segment registers are loaded straight into their hidden parts (matching the GDT).
    func enterLongMode(at entry: UInt64, stackTop: UInt64, registers: (inout kvm_regs) -> Void = { _ in })
        throws(KVMError)
    {
        var sregs = try specialRegisters()
        sregs.cr3 = GuestLayout.pml4
        sregs.cr4 = 1 << 5  // PAE
        // PE | MP | ET | NE | WP | AM | PG
        sregs.cr0 = 1 << 0 | 1 << 1 | 1 << 4 | 1 << 5 | 1 << 16 | 1 << 18 | 1 << 31
        sregs.efer = 1 << 8 | 1 << 10  // LME | LMA
        var code = kvm_segment()
        code.base = 0
        code.limit = 0xFFFF_FFFF
        code.selector = 8
        code.type = 11  // execute/read, accessed
        code.present = 1
        code.s = 1
        code.l = 1
        code.g = 1
        var data = code
        data.selector = 16
        data.type = 3  // read/write, accessed
        data.l = 0
        data.db = 1
        sregs.cs = code
        sregs.ds = data
        sregs.es = data
        sregs.fs = data
        sregs.gs = data
        sregs.ss = data
        sregs.gdt.base = GuestLayout.gdt
        sregs.gdt.limit = 3 * 8 - 1
        sregs.idt.base = GuestLayout.idt
        sregs.idt.limit = 256 * 16 - 1
        try setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = entry
        regs.rflags = 2
        regs.rsp = stackTop
        registers(&regs)
        try setRegisters(regs)
    }
}
