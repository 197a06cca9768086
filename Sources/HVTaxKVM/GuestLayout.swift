/// Where everything lives in hvtax's guests: one 2 MB memory slot at guest physical 0, identity
/// mapped, and an unbacked range above it whose accesses become MMIO exits.
public enum GuestLayout {
    /// The only memory slot: guest physical [0, 2 MB).
    public static let memorySize = 2 << 20
    /// A three-entry GDT (null, 64-bit code = selector 8, data = selector 16): running needs none,
    /// but delivering an exception loads CS from it.
    static let gdt: UInt64 = 0x0800
    /// 256 long-mode interrupt gates (16 bytes each).
    static let idt: UInt64 = 0x1000
    static let pml4: UInt64 = 0x2000
    static let pdpt: UInt64 = 0x3000
    static let pageDirectory: UInt64 = 0x4000
    /// 2 MB pages mapped by the page directory: [0, 8 MB). Only the first is backed by the slot.
    static let mappedLargePages = 4
    /// One 8-byte stub per exception vector, reporting the vector on `exceptionPort`.
    static let exceptionStubs: UInt64 = 0x5000
    /// Per-vCPU mailboxes the host and the guest share (workload schedule, guest-side counters).
    static let mailboxes: UInt64 = 0x6000
    static let mailboxStride: UInt64 = 0x80
    public static let maximumVCPUs = 64
    /// Guest code (up to 32 KB).
    public static let code: UInt64 = 0x8000
    static let codeLimit: UInt64 = 0x10000
    /// Per-vCPU stacks (1 KB each): only exception frames ever land there.
    static let stacks: UInt64 = 0x10000
    static let stackSize: UInt64 = 0x400
    /// Per-iteration samples the probe guest stores (u64 each), up to the end of the slot.
    static let samples: UInt64 = 0x20000
    public static let sampleCapacity = (memorySize - Int(samples)) / 8
    /// An unbacked guest-physical address inside the mapped range: every store there is an MMIO exit.
    static let mmio: UInt64 = 0x30_0000

    /// The port whose OUT is the "I/O exit" being measured or generated.
    public static let ioExitPort: UInt8 = 0xF0
    /// The port a probe loop writes when it is done (its result is in RAX).
    public static let donePort: UInt8 = 0xF1
    /// The port an exception stub writes the vector number to.
    public static let exceptionPort: UInt8 = 0xF3

    static func mailbox(ofVCPU index: Int) -> UInt64 {
        mailboxes + UInt64(index) * mailboxStride
    }

    static func stackTop(ofVCPU index: Int) -> UInt64 {
        stacks + UInt64(index + 1) * stackSize
    }

    static func mmioAddress(ofVCPU index: Int) -> UInt64 {
        mmio + UInt64(index) * 8
    }
}
