import HVTaxModel

/// The instructions a probe kind puts in its timed region.
struct ProbeBody: Sendable {
    let kind: ProbeKind
    let instructions: [X86Instruction]

    var text: String { instructions.isEmpty ? "(nothing)" : instructions.map(\.text).joined(separator: "; ") }

    /// The kinds timed by the guest, in the order the probe runs them: the timer overhead first
    /// (every other sample subtracts it), then the native baseline (it decides the world).
    static func guestKinds(hypercall: X86Instruction) -> [ProbeBody] {
        [
            ProbeBody(kind: .timerOverhead, instructions: []),
            ProbeBody(kind: .guestInstructions, instructions: Array(repeating: .addR10One, count: 4)),
            // EAX = 0 inside the region, as kvm-unit-tests' cpuid test: RDTSC just clobbered EAX.
            ProbeBody(kind: .cpuid, instructions: [.xorEAXEAX, .cpuid]),
            // Hypercall number 0 is unknown to KVM: it returns -KVM_ENOSYS, the cheapest path.
            ProbeBody(kind: .hypercall, instructions: [.xorEAXEAX, hypercall]),
            ProbeBody(kind: .portIO, instructions: [.outImmediate(port: GuestLayout.ioExitPort)]),
            ProbeBody(kind: .mmio, instructions: [.storeALAtRSI]),
            ProbeBody(kind: .hlt, instructions: [.hlt]),
        ]
    }

    /// The kinds that return to userspace, which the host also times around KVM_RUN.
    static let userspaceKinds: Set<ProbeKind> = [.portIO, .mmio, .hlt]
}

/// The probe's guest: for every kind three entry points sharing the body.
///
/// Registers the host sets: R8 = iterations, RDI = sample buffer, RSI = an unbacked (MMIO) address.
///
/// - `sample.K`: each iteration timed alone; the TSC delta goes to [RDI] (gives the distribution).
///
///       rdtsc; mov r9d,eax; BODY; rdtsc; sub eax,r9d; mov [rdi],rax; add rdi,8; dec r8; jne; out DONE,al
///
/// - `loop.K`: kvm-unit-tests' loop: one RDTSC pair around R8 iterations, total ticks in RAX.
///
///       rdtsc; shl rdx,32; or rax,rdx; mov r9,rax; (BODY; dec r8; jne); rdtsc; ...; sub rax,r9; out DONE,al
///
/// - `exits.K` (userspace kinds): 64 bodies back to back and a jump back, so that nearly every
///   KVM_RUN the host times covers exactly one guest instruction and one exit.
enum ProbeGuestProgram {
    static let exitsUnroll = 64

    static func sampleLabel(_ kind: ProbeKind) -> String { "sample.\(kind.rawValue)" }
    static func loopLabel(_ kind: ProbeKind) -> String { "loop.\(kind.rawValue)" }
    static func exitsLabel(_ kind: ProbeKind) -> String { "exits.\(kind.rawValue)" }

    /// Instructions executed by `sample.K` for `iterations` samples (the DONE write included).
    static func sampleInstructions(_ body: ProbeBody, iterations: UInt64) -> UInt64 {
        iterations * UInt64(8 + body.instructions.count) + 1
    }

    /// Instructions executed by `loop.K` for `iterations` iterations (the DONE write included).
    static func loopInstructions(_ body: ProbeBody, iterations: UInt64) -> UInt64 {
        9 + iterations * UInt64(2 + body.instructions.count)
    }

    static func build(bodies: [ProbeBody]) throws(KVMError) -> GuestProgram {
        var asm = GuestAssembler(loadAddress: GuestLayout.code)
        let done = X86Instruction.outImmediate(port: GuestLayout.donePort)
        let timestamp: [X86Instruction] = [.rdtsc, .shlRDX32, .orRAXRDX]
        for body in bodies {
            let sample = sampleLabel(body.kind)
            asm.label(sample)
            asm.emit([.rdtsc, .movR9DEAX])
            asm.emit(body.instructions)
            asm.emit([.rdtsc, .subEAXR9D, .storeRAXAtRDI, .addRDI8, .decR8])
            asm.branch(.jnz, to: sample)
            asm.emit(done)

            let loop = loopLabel(body.kind)
            asm.label(loop)
            asm.emit(timestamp + [.movR9RAX])
            asm.label(loop + ".head")
            asm.emit(body.instructions)
            asm.emit(.decR8)
            asm.branch(.jnz, to: loop + ".head")
            asm.emit(timestamp + [.subRAXR9])
            asm.emit(done)

            if ProbeBody.userspaceKinds.contains(body.kind) {
                let exits = exitsLabel(body.kind)
                asm.label(exits)
                for _ in 0..<exitsUnroll { asm.emit(body.instructions) }
                asm.branch(.jmp, to: exits)
            }
        }
        return try asm.finish()
    }
}
