/// A guest program: machine code for one load address, with its listing and labels.
public struct GuestProgram: Sendable {
    public let loadAddress: UInt64
    public let bytes: [UInt8]
    /// Every instruction with its guest address, for diagnostics and the disassembly test.
    public let listing: [(address: UInt64, instruction: X86Instruction)]
    let labels: [String: UInt64]

    /// The guest address of `label` (entry points and loop heads).
    public func address(of label: String) -> UInt64 {
        guard let address = labels[label] else { preconditionFailure("no label \(label) in guest program") }
        return address
    }
}

/// Lays hand-assembled instructions one after another and resolves branch targets.
///
/// Branches always use the rel32 forms so that no body is ever too long for its loop.
struct GuestAssembler {
    let loadAddress: UInt64
    private var bytes: [UInt8] = []
    private var listing: [(address: UInt64, instruction: X86Instruction)] = []
    private var labels: [String: UInt64] = [:]
    private var fixups: [(at: Int, listingIndex: Int, branch: X86Instruction.Branch, target: String)] = []

    init(loadAddress: UInt64) {
        self.loadAddress = loadAddress
    }

    var here: UInt64 { loadAddress + UInt64(bytes.count) }

    mutating func label(_ name: String) {
        precondition(labels[name] == nil, "label \(name) defined twice")
        labels[name] = here
    }

    mutating func emit(_ instruction: X86Instruction) {
        listing.append((here, instruction))
        bytes += instruction.bytes
    }

    mutating func emit(_ instructions: [X86Instruction]) {
        for instruction in instructions { emit(instruction) }
    }

    mutating func branch(_ branch: X86Instruction.Branch, to target: String) {
        let placeholder = X86Instruction(branch.opcode + [0, 0, 0, 0], branch.mnemonic)
        fixups.append((bytes.count + branch.opcode.count, listing.count, branch, target))
        emit(placeholder)
    }

    func finish() throws(KVMError) -> GuestProgram {
        var bytes = bytes
        var listing = listing
        for fixup in fixups {
            guard let target = labels[fixup.target] else {
                throw .guestLayout("branch to undefined label \(fixup.target)")
            }
            let next = loadAddress + UInt64(fixup.at + 4)
            let displacement = Int64(bitPattern: target &- next)
            guard let rel32 = Int32(exactly: displacement) else {
                throw .guestLayout("branch to \(fixup.target) is out of rel32 range")
            }
            bytes.replaceSubrange(fixup.at..<(fixup.at + 4), with: X86Instruction.le32(UInt32(bitPattern: rel32)))
            let entry = listing[fixup.listingIndex]
            listing[fixup.listingIndex] = (entry.address, X86Instruction(
                Array(bytes[(Int(entry.address - loadAddress))..<(fixup.at + 4)]),
                "\(fixup.branch.mnemonic) \(X86Instruction.hex(target))"))
        }
        return GuestProgram(loadAddress: loadAddress, bytes: bytes, listing: listing, labels: labels)
    }
}
