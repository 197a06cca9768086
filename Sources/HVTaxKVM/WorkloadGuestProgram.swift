/// The workload's guest: stay busy until a TSC deadline, performing exits of each kind on a schedule
/// the host writes into the vCPU's mailbox, then HLT; after each HLT start over with a new schedule.
///
/// Registers the host sets once: R15 = this vCPU's mailbox, RSI = this vCPU's MMIO address.
///
///     segment:  now = rdtsc; [start] = now; [busyEnd] += now; [kind.next] += now for each kind
///     spin:     now = rdtsc
///               if now >= [busyEnd] goto finish
///               for each kind: if now >= [kind.next] goto do_kind
///               goto spin
///     do_kind:  r9 = now; <the exit>; rcx = &kind; goto account
///     account:  [exitTicks] += rdtsc - r9; [kind.done] += 1; [kind.next] += [kind.interval];
///               if --[kind.remaining] != 0 goto spin; [kind.next] = UINT64_MAX; goto spin
///     finish:   [end] = now; hlt; goto segment
///
/// Deadlines are written relative to the segment's start and made absolute by the guest itself, so
/// the host never needs the guest's TSC offset. Busy is measured by time, never by instruction
/// counts: an emulating KVM runs guest instructions thousands of times slower than hardware.
enum WorkloadGuestProgram {
    /// Byte offsets in a vCPU's mailbox (`GuestLayout.mailboxStride` bytes).
    enum Mailbox {
        /// In: busy duration in TSC ticks. The guest turns it into an absolute deadline.
        static let busyEnd: UInt8 = 0x00
        /// One 32-byte record per exit kind: remaining, next (relative in, absolute after), interval, done.
        static let io: UInt8 = 0x08
        static let mmio: UInt8 = 0x28
        static let cpuid: UInt8 = 0x48
        static let remaining: UInt8 = 0x00
        static let next: UInt8 = 0x08
        static let interval: UInt8 = 0x10
        static let done: UInt8 = 0x18
        /// Out: TSC ticks the guest spent inside its exits (from just before to just after each).
        static let exitTicks: UInt8 = 0x68
        /// Out: the guest's TSC at the segment's start and at its HLT.
        static let segmentStart: UInt8 = 0x70
        static let segmentEnd: UInt8 = 0x78
    }

    /// A `next` far enough away never to come, yet small enough that adding a TSC cannot overflow.
    static let never: UInt64 = 1 << 62

    static let entry = "segment"

    static func build() throws(KVMError) -> GuestProgram {
        var asm = GuestAssembler(loadAddress: GuestLayout.code)
        let now: [X86Instruction] = [.rdtsc, .shlRDX32, .orRAXRDX]
        let kinds: [(name: String, record: UInt8, exit: [X86Instruction])] = [
            ("io", Mailbox.io, [.outImmediate(port: GuestLayout.ioExitPort)]),
            ("mmio", Mailbox.mmio, [.storeALAtRSI]),
            ("cpuid", Mailbox.cpuid, [.xorEAXEAX, .cpuid]),
        ]

        asm.label(entry)
        asm.emit(now)
        asm.emit(.storeRAXMailbox(Mailbox.segmentStart))
        asm.emit(.addRAXToMailbox(Mailbox.busyEnd))
        for kind in kinds { asm.emit(.addRAXToMailbox(kind.record + Mailbox.next)) }

        asm.label("spin")
        asm.emit(now)
        asm.emit(.cmpRAXMailbox(Mailbox.busyEnd))
        asm.branch(.jae, to: "finish")
        for kind in kinds {
            asm.emit(.cmpRAXMailbox(kind.record + Mailbox.next))
            asm.branch(.jae, to: "do." + kind.name)
        }
        asm.branch(.jmp, to: "spin")

        for kind in kinds {
            asm.label("do." + kind.name)
            asm.emit(.movR9RAX)
            asm.emit(kind.exit)
            asm.emit(.leaRCXMailbox(kind.record))
            asm.branch(.jmp, to: "account")
        }

        asm.label("account")
        asm.emit(now)
        asm.emit(.subRAXR9)
        asm.emit(.addRAXToMailbox(Mailbox.exitTicks))
        asm.emit(.incRCX(Mailbox.done))
        asm.emit(.loadRAXFromRCX(Mailbox.interval))
        asm.emit(.addRAXToRCX(Mailbox.next))
        asm.emit(.decRCX(Mailbox.remaining))
        asm.branch(.jnz, to: "spin")
        asm.emit(.storeImmediateRCX(Mailbox.next, -1))
        asm.branch(.jmp, to: "spin")

        asm.label("finish")
        asm.emit(.storeRAXMailbox(Mailbox.segmentEnd))
        asm.emit(.hlt)
        asm.branch(.jmp, to: entry)
        return try asm.finish()
    }
}
