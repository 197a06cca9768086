/// One hand-assembled x86 instruction: its bytes and what it is, in Intel syntax as
/// `objdump -M intel` prints it (a test disassembles every guest program and compares).
///
/// Only the instructions hvtax's guests use exist here; each constructor names its encoding.
public struct X86Instruction: Sendable, Equatable {
    public let bytes: [UInt8]
    public let text: String

    init(_ bytes: [UInt8], _ text: String) {
        self.bytes = bytes
        self.text = text
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    static func le32(_ value: UInt32) -> [UInt8] {
        [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)]
    }

    // MARK: time and identification

    /// 0F 31: EDX:EAX = time-stamp counter.
    static let rdtsc = X86Instruction([0x0F, 0x31], "rdtsc")
    /// 0F A2: EAX/EBX/ECX/EDX = CPUID(EAX, ECX). Intercepted by every KVM.
    static let cpuid = X86Instruction([0x0F, 0xA2], "cpuid")
    /// 0F 01 C1: Intel's hypercall.
    static let vmcall = X86Instruction([0x0F, 0x01, 0xC1], "vmcall")
    /// 0F 01 D9: AMD's hypercall.
    static let vmmcall = X86Instruction([0x0F, 0x01, 0xD9], "vmmcall")
    /// F4: halt until an interrupt; with no in-kernel irqchip, an exit to userspace.
    static let hlt = X86Instruction([0xF4], "hlt")
    /// 90: one-byte no-op (padding).
    static let nop = X86Instruction([0x90], "nop")

    // MARK: port I/O and memory-mapped I/O

    /// E6 ib: OUT imm8, AL (one byte to an 8-bit port number, no DX needed).
    static func outImmediate(port: UInt8) -> X86Instruction {
        X86Instruction([0xE6, port], "out \(hex(UInt64(port))),al")
    }

    /// 88 06: MOV [RSI], AL (a one-byte store; an MMIO exit when RSI points outside every slot).
    static let storeALAtRSI = X86Instruction([0x88, 0x06], "mov BYTE PTR [rsi],al")

    // MARK: arithmetic on registers

    /// 48 C1 E2 20: RDX <<= 32 (high half of RDTSC into place).
    static let shlRDX32 = X86Instruction([0x48, 0xC1, 0xE2, 0x20], "shl rdx,0x20")
    /// 48 09 D0: RAX |= RDX.
    static let orRAXRDX = X86Instruction([0x48, 0x09, 0xD0], "or rax,rdx")
    /// 49 89 C1: R9 = RAX.
    static let movR9RAX = X86Instruction([0x49, 0x89, 0xC1], "mov r9,rax")
    /// 41 89 C1: R9D = EAX (the low half of a timestamp; deltas under 2^32 ticks stay exact).
    static let movR9DEAX = X86Instruction([0x41, 0x89, 0xC1], "mov r9d,eax")
    /// 44 29 C8: EAX -= R9D (zero-extends into RAX).
    static let subEAXR9D = X86Instruction([0x44, 0x29, 0xC8], "sub eax,r9d")
    /// 4C 29 C8: RAX -= R9.
    static let subRAXR9 = X86Instruction([0x4C, 0x29, 0xC8], "sub rax,r9")
    /// 31 C0: EAX = 0 (CPUID leaf 0, hypercall number 0 as kvm-unit-tests uses).
    static let xorEAXEAX = X86Instruction([0x31, 0xC0], "xor eax,eax")
    /// 49 FF C8: R8 -= 1 (the loop counter).
    static let decR8 = X86Instruction([0x49, 0xFF, 0xC8], "dec r8")
    /// 49 83 C2 01: R10 += 1 (the native-baseline work instruction).
    static let addR10One = X86Instruction([0x49, 0x83, 0xC2, 0x01], "add r10,0x1")
    /// 48 83 C7 08: RDI += 8 (next sample slot).
    static let addRDI8 = X86Instruction([0x48, 0x83, 0xC7, 0x08], "add rdi,0x8")
    /// B0 ib: AL = imm8.
    static func movALImmediate(_ value: UInt8) -> X86Instruction {
        X86Instruction([0xB0, value], "mov al,\(hex(UInt64(value)))")
    }

    // MARK: memory operands

    /// 48 89 07: [RDI] = RAX (store a sample).
    static let storeRAXAtRDI = X86Instruction([0x48, 0x89, 0x07], "mov QWORD PTR [rdi],rax")

    private static func displacement(_ value: UInt8) -> String { value == 0 ? "" : "+\(hex(UInt64(value)))" }

    /// ModRM (+ disp8) for a [base + offset] operand given the disp8 form's ModRM byte: offset 0
    /// uses the shorter mod=00 form, as assemblers do (fine for RCX and R15, which need no SIB).
    private static func memory(_ modrmDisp8: UInt8, _ offset: UInt8) -> [UInt8] {
        offset == 0 ? [modrmDisp8 & 0x3F] : [modrmDisp8, offset]
    }

    /// 49 3B 47 d8 (49 3B 07 at offset 0): compare RAX with the u64 at [R15 + d8] (R15 = mailbox).
    static func cmpRAXMailbox(_ offset: UInt8) -> X86Instruction {
        X86Instruction([0x49, 0x3B] + memory(0x47, offset), "cmp rax,QWORD PTR [r15\(displacement(offset))]")
    }

    /// 49 89 47 d8: [R15 + d8] = RAX.
    static func storeRAXMailbox(_ offset: UInt8) -> X86Instruction {
        X86Instruction([0x49, 0x89] + memory(0x47, offset), "mov QWORD PTR [r15\(displacement(offset))],rax")
    }

    /// 49 01 47 d8: [R15 + d8] += RAX.
    static func addRAXToMailbox(_ offset: UInt8) -> X86Instruction {
        X86Instruction([0x49, 0x01] + memory(0x47, offset), "add QWORD PTR [r15\(displacement(offset))],rax")
    }

    /// 49 8D 4F d8: RCX = R15 + d8 (address of one exit kind's schedule record).
    static func leaRCXMailbox(_ offset: UInt8) -> X86Instruction {
        X86Instruction([0x49, 0x8D] + memory(0x4F, offset), "lea rcx,[r15\(displacement(offset))]")
    }

    /// 48 8B 41 d8: RAX = [RCX + d8].
    static func loadRAXFromRCX(_ offset: UInt8) -> X86Instruction {
        X86Instruction([0x48, 0x8B] + memory(0x41, offset), "mov rax,QWORD PTR [rcx\(displacement(offset))]")
    }

    /// 48 01 41 d8: [RCX + d8] += RAX.
    static func addRAXToRCX(_ offset: UInt8) -> X86Instruction {
        X86Instruction([0x48, 0x01] + memory(0x41, offset), "add QWORD PTR [rcx\(displacement(offset))],rax")
    }

    /// 48 FF 41 d8: [RCX + d8] += 1 (FF /0).
    static func incRCX(_ offset: UInt8) -> X86Instruction {
        X86Instruction([0x48, 0xFF] + memory(0x41, offset), "inc QWORD PTR [rcx\(displacement(offset))]")
    }

    /// 48 FF 49 d8: [RCX + d8] -= 1 (FF /1).
    static func decRCX(_ offset: UInt8) -> X86Instruction {
        X86Instruction([0x48, 0xFF] + memory(0x49, offset), "dec QWORD PTR [rcx\(displacement(offset))]")
    }

    /// 48 C7 41 d8 id: [RCX + d8] = sign-extended imm32.
    static func storeImmediateRCX(_ offset: UInt8, _ value: Int32) -> X86Instruction {
        let shown = value < 0 ? hex(UInt64(bitPattern: Int64(value))) : hex(UInt64(value))
        return X86Instruction([0x48, 0xC7] + memory(0x41, offset) + le32(UInt32(bitPattern: value)),
                              "mov QWORD PTR [rcx\(displacement(offset))],\(shown)")
    }

    // MARK: branches (rel32 forms; the assembler fills the displacement)

    enum Branch: Sendable {
        case jmp, jnz, jae

        var opcode: [UInt8] {
            switch self {
            case .jmp: [0xE9]
            case .jnz: [0x0F, 0x85]
            case .jae: [0x0F, 0x83]
            }
        }

        var mnemonic: String {
            switch self {
            case .jmp: "jmp"
            case .jnz: "jne"
            case .jae: "jae"
            }
        }
    }
}
