import HVTaxEvents
import HVTaxModel

/// Where one field of a record lives, resolved once from the event's format so decoding a record
/// is a few loads at known offsets. `size == 0` means the format has no such field.
struct FieldRef {
    // Small fields: handlers are copied per record, so they must stay a few words.
    var offset32: Int32 = 0
    var size16: Int16 = 0
    var isSigned = false
    var kind: EventField.Kind = .inline

    init() {}

    init(_ field: EventField?) {
        guard let field else { return }
        offset32 = Int32(field.offset)
        size16 = Int16(field.size)
        isSigned = field.isSigned
        kind = field.kind
    }

    var offset: Int { Int(offset32) }
    var size: Int { Int(size16) }
    var exists: Bool { size16 > 0 }
}

/// Reads numbers in the file's byte order out of a record.
struct RecordBytes {
    let base: UnsafeRawPointer
    let count: Int
    let bigEndian: Bool

    @inline(__always)
    func contains(_ field: FieldRef) -> Bool {
        field.size > 0 && field.offset + field.size <= count
    }

    /// The field as a 64-bit integer, sign-extended when the format says it is signed; 0 for a
    /// field wider than 8 bytes.
    ///
    /// One 8-byte load and two shifts to the field's width, with no branch on the width: a switch
    /// over 1, 2, 4 and 8 bytes was an indirect jump per field, five per kvm_exit, and the decoding
    /// of a record took ~60 cycles. Near the end of the record (or in a big-endian file) the bytes
    /// are gathered one by one instead, so nothing past the record is read.
    @inline(__always)
    func integer(_ field: FieldRef) -> Int64 {
        let size = field.size
        guard size > 0, size <= 8 else { return 0 }
        let raw: UInt64
        if !bigEndian && field.offset + 8 <= count {
            raw = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: field.offset, as: UInt64.self))
        } else {
            raw = gathered(field)
        }
        let shift = UInt64(64 - 8 * size)
        return field.isSigned ? Int64(bitPattern: raw &<< shift) &>> shift : Int64(bitPattern: (raw &<< shift) &>> shift)
    }

    /// The field's bytes in the file's byte order, as the low bytes of a number.
    private func gathered(_ field: FieldRef) -> UInt64 {
        var raw: UInt64 = 0
        for index in 0..<field.size {
            let byte = UInt64(base.load(fromByteOffset: field.offset + index, as: UInt8.self))
            if bigEndian { raw = raw << 8 | byte } else { raw |= byte << UInt64(8 * index) }
        }
        return raw
    }

    /// A string field (`char comm[16]` in place, or `__data_loc char[]`) up to its NUL, as raw
    /// bytes for interning; empty when the field points outside the record.
    @inline(__always)
    func string(_ field: FieldRef) -> UnsafeRawBufferPointer {
        var start = field.offset
        var length = field.size
        if field.kind != .inline {
            guard field.size == 4 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            let word = UInt32(truncatingIfNeeded: integer(FieldRef.word(at: field.offset)))
            start = Int(word & 0xffff) + (field.kind == .relLoc ? field.offset + 4 : 0)
            length = Int(word >> 16)
        }
        guard start >= 0, length >= 0, start + length <= count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let bytes = UnsafeRawBufferPointer(start: base + start, count: length)
        let end = bytes.firstIndex(of: 0) ?? length
        return UnsafeRawBufferPointer(rebasing: bytes[0..<end])
    }
}

extension FieldRef {
    static func word(at offset: Int) -> FieldRef {
        var ref = FieldRef()
        ref.offset32 = Int32(offset)
        ref.size16 = 4
        return ref
    }
}

/// Turns ring-buffer records into `TraceEvent`s: one small handler per event id, resolved from the
/// event formats stored in the file (Trace Compass style: each event kind is its own case).
struct TraceDatEventMapper {
    enum Role {
        case kvmExit(reason: FieldRef, isa: FieldRef, vcpu: FieldRef, fallbackISA: ISA)
        case kvmEntry(vcpu: FieldRef)
        case userspaceExit(reason: FieldRef, errno: FieldRef)
        case pio(rw: FieldRef, port: FieldRef, size: FieldRef)
        case mmio(type: FieldRef, gpa: FieldRef)
        case fastMMIO(gpa: FieldRef)
        case schedSwitch(prevComm: FieldRef, prevPid: FieldRef, prevState: FieldRef, nextComm: FieldRef, nextPid: FieldRef)
        case schedWakeup(pid: FieldRef, comm: FieldRef)
        case irqEntry(irq: FieldRef)
        case irqExit(irq: FieldRef)
        case syscallEnter(id: FieldRef)
        case syscallExit(id: FieldRef)
        case other
    }

    struct Handler {
        var role: Role
        /// The event's name interned in `SymbolTable.names` (for `.other` events).
        var name: UInt32
        /// Records shorter than this cannot hold the fields the role reads.
        var minimumLength: Int
    }

    let symbols: SymbolTable
    let bigEndian: Bool
    /// Indexed by event id; nil for ids the file has no format for.
    private(set) var handlers: [Handler?]
    let commonType: FieldRef
    let commonPid: FieldRef
    /// pid -> task name symbol, from the saved command lines.
    private var commands: [Int32: UInt32]
    /// Direct-mapped pid cache; a raw buffer because the hot path must not pay for copy-on-write
    /// checks (freed by the reader, which owns the mapper).
    private let commandCache: UnsafeMutablePointer<(pid: Int32, symbol: UInt32, tgid: Int32)>
    private let tgids: [Int32: Int32]
    /// Direct-mapped by pid: the 16 bytes of a `char comm[16]` field last seen for it and their
    /// symbol, so a sched_switch names its tasks with two compares instead of interning.
    private let commCache: UnsafeMutablePointer<(pid: Int32, w0: UInt64, w1: UInt64, symbol: UInt32)>
    let unknownCommand: UInt32
    var notes: [String] = []
    /// (code, isa) -> reason symbol, direct-mapped: exits repeat a few reasons millions of times.
    private var reasonCache = [(key: UInt64, symbol: UInt32)](repeating: (UInt64.max, 0), count: 256)

    init(file: TraceDatFile, symbols: SymbolTable) {
        self.symbols = symbols
        bigEndian = file.bigEndian
        let sample = file.formats.first { $0.field("common_type") != nil }
        commonType = FieldRef(sample?.field("common_type"))
        commonPid = FieldRef(sample?.field("common_pid"))
        var commands: [Int32: UInt32] = [0: symbols.names.intern("<idle>")]
        for (pid, name) in file.commands { commands[pid] = symbols.names.intern(name) }
        self.commands = commands
        commandCache = .allocate(capacity: 4096)
        commandCache.initialize(repeating: (-1, 0, -1), count: 4096)
        commCache = .allocate(capacity: 4096)
        commCache.initialize(repeating: (-1, 0, 0, 0), count: 4096)
        tgids = file.threadGroups
        // trace-cmd prints tasks missing from the saved command lines as `<...>`; so do we, so that
        // a trace.dat and its `trace-cmd report` text name the same threads.
        unknownCommand = symbols.names.intern("<...>")
        let maxID = file.formats.map(\.id).max() ?? 0
        var handlers = [Handler?](repeating: nil, count: maxID + 1)
        for format in file.formats {
            handlers[format.id] = Self.handler(for: format, symbols: symbols, notes: &notes)
        }
        self.handlers = handlers
    }

    private static func handler(for format: EventFormat, symbols: SymbolTable, notes: inout [String]) -> Handler {
        let f = { (name: String) in FieldRef(format.field(name)) }
        let role: Role
        switch (format.system, format.name) {
        case ("kvm", "kvm_exit"):
            // Kernels before `isa` existed print VMX or SVM names only: tell which from the table
            // the print format carries.
            let fallback: ISA = format.printFormat.contains("\"EXTERNAL_INTERRUPT\"") ? .vmx
                : format.printFormat.contains("\"npf\"") || format.printFormat.contains("\"interrupt\"") ? .svm : .unknown
            role = .kvmExit(reason: f("exit_reason"), isa: f("isa"), vcpu: f("vcpu_id"), fallbackISA: fallback)
            if !f("vcpu_id").exists {
                notes.append("kvm_exit has no vcpu_id field in this kernel: the vcpu is taken from the thread's last kvm_entry")
            }
        case ("kvm", "kvm_entry"):
            role = .kvmEntry(vcpu: f("vcpu_id"))
        case ("kvm", "kvm_userspace_exit"):
            role = .userspaceExit(reason: f("reason"), errno: f("errno"))
        case ("kvm", "kvm_pio"):
            role = .pio(rw: f("rw"), port: f("port"), size: f("size"))
        case ("kvm", "kvm_mmio"):
            role = .mmio(type: f("type"), gpa: f("gpa"))
        case ("kvm", "kvm_fast_mmio"):
            role = .fastMMIO(gpa: f("gpa"))
        case ("sched", "sched_switch"):
            role = .schedSwitch(prevComm: f("prev_comm"), prevPid: f("prev_pid"), prevState: f("prev_state"),
                                nextComm: f("next_comm"), nextPid: f("next_pid"))
        case ("sched", "sched_wakeup"):
            role = .schedWakeup(pid: f("pid"), comm: f("comm"))
        case ("irq", "irq_handler_entry"):
            role = .irqEntry(irq: f("irq"))
        case ("irq", "irq_handler_exit"):
            role = .irqExit(irq: f("irq"))
        case ("raw_syscalls", "sys_enter"):
            role = .syscallEnter(id: f("id"))
        case ("raw_syscalls", "sys_exit"):
            role = .syscallExit(id: f("id"))
        default:
            role = .other
        }
        let minimum = format.fields.filter { $0.kind == .inline || $0.size == 4 }.map { $0.offset + $0.size }.max() ?? 0
        return Handler(role: role, name: symbols.names.intern(format.name), minimumLength: minimum)
    }

    /// The task name of `pid` from the saved command lines, and its process when the file says.
    @inline(__always)
    mutating func command(_ pid: Int32) -> (symbol: UInt32, tgid: Int32) {
        let slot = Int(UInt32(bitPattern: pid) & 4095)
        if commandCache[slot].pid == pid { return (commandCache[slot].symbol, commandCache[slot].tgid) }
        let symbol = commands[pid] ?? unknownCommand
        let tgid = tgids[pid] ?? TraceEvent.unknownID
        commandCache[slot] = (pid, symbol, tgid)
        return (symbol, tgid)
    }

    func deallocate() {
        commandCache.deallocate()
        commCache.deallocate()
    }

    /// The symbol of a task name field of task `pid`.
    @inline(__always)
    private func commSymbol(_ record: RecordBytes, _ field: FieldRef, pid: Int32) -> UInt32 {
        guard field.kind == .inline, field.size == 16, field.offset + 16 <= record.count else {
            return symbols.names.intern(record.string(field))
        }
        let w0 = record.base.loadUnaligned(fromByteOffset: field.offset, as: UInt64.self)
        let w1 = record.base.loadUnaligned(fromByteOffset: field.offset + 8, as: UInt64.self)
        // The slot mixes the name in: pid 0 is `swapper/N` on every CPU N, and a slot per pid alone
        // made the idle task of two CPUs evict each other on every switch.
        let mixed = (UInt64(UInt32(bitPattern: pid)) ^ (w0 &* 0x9E37_79B9_7F4A_7C15) ^ (w1 &* 0xC2B2_AE3D_27D4_EB4F)) &* 0x1656_67B1_9E37_79F9
        let slot = Int(truncatingIfNeeded: mixed >> 52)
        if commCache[slot].pid == pid && commCache[slot].w0 == w0 && commCache[slot].w1 == w1 { return commCache[slot].symbol }
        let symbol = symbols.names.intern(record.string(field))
        commCache[slot] = (pid, w0, w1, symbol)
        return symbol
    }

    /// Task names seen in sched events name the task from then on, as trace-cmd does, so threads
    /// missing from the saved command lines still get their names.
    @inline(__always)
    private mutating func learn(_ pid: Int32, _ symbol: UInt32) {
        guard symbol != 0, pid > 0 else { return }
        let slot = Int(UInt32(bitPattern: pid) & 4095)
        if commandCache[slot].pid == pid && commandCache[slot].symbol == symbol { return }
        commands[pid] = symbol
        commandCache[slot] = (pid, symbol, tgids[pid] ?? TraceEvent.unknownID)
    }

    enum Outcome {
        case event
        case malformed(String)
    }

    /// Decodes one record (the event payload, starting with `common_type`).
    @inline(__always)
    mutating func map(_ record: RecordBytes, time: UInt64, cpu: Int32, into event: inout TraceEvent) -> Outcome {
        guard record.contains(commonType) else { return .malformed("a record of \(record.count) bytes, too short for its event id") }
        let id = Int(record.integer(commonType))
        guard id < handlers.count, let handler = handlers[id] else {
            return .malformed("a record with event id \(id), which has no format in the file")
        }
        guard record.count >= handler.minimumLength else {
            return .malformed("a \(symbols.names.string(handler.name)) record of \(record.count) bytes; its format needs \(handler.minimumLength)")
        }
        let pid = record.contains(commonPid) ? Int32(truncatingIfNeeded: record.integer(commonPid)) : TraceEvent.unknownID
        let task = command(pid)
        event = TraceEvent(time: time, kind: .other, cpu: cpu, tid: pid, tgid: task.tgid, comm: task.symbol)
        switch handler.role {
        case .kvmExit(let reason, let isaField, let vcpu, let fallback):
            let code = UInt32(truncatingIfNeeded: record.integer(reason))
            var isa = fallback
            if isaField.exists {
                switch record.integer(isaField) {
                case 1: isa = .vmx
                case 2: isa = .svm
                default: isa = .unknown
                }
            }
            event.kind = .kvmExit
            let key = UInt64(code) | UInt64(isa == .vmx ? 1 : isa == .svm ? 2 : 0) << 32
            let slot = Int(truncatingIfNeeded: (key ^ key >> 32) &* 0x9e37_79b9) >> 8 & 255
            if reasonCache[slot].key == key {
                event.code = reasonCache[slot].symbol
            } else {
                event.code = symbols.reason(code: code, isa: isa)
                reasonCache[slot] = (key, event.code)
            }
            if isa == .vmx && code & ExitReasonTable.vmxFailedEntryBit != 0 { event.flags.insert(.failedVMEntry) }
            if vcpu.exists { event.vcpu = Int32(truncatingIfNeeded: record.integer(vcpu)) }
        case .kvmEntry(let vcpu):
            event.kind = .kvmEntry
            if vcpu.exists { event.vcpu = Int32(truncatingIfNeeded: record.integer(vcpu)) }
        case .userspaceExit(let reason, let errno):
            event.setUserspaceExit(reason: UInt64(bitPattern: record.integer(reason)),
                                   errno: errno.exists ? record.integer(errno) : nil)
        case .pio(let rw, let port, let size):
            event.setPortIO(port: UInt64(truncatingIfNeeded: record.integer(port)),
                            size: size.exists ? UInt64(truncatingIfNeeded: record.integer(size)) : 0, write: record.integer(rw) != 0)
        case .mmio(let type, let gpa):
            guard let access = MMIOAccess(kernelType: record.integer(type)) else {
                return .malformed("a kvm_mmio record of type \(record.integer(type)); expected 0 (unsatisfied-read), 1 (read) or 2 (write)")
            }
            event.setMMIO(access, gpa: UInt64(bitPattern: record.integer(gpa)))
        case .fastMMIO(let gpa):
            event.setMMIO(.fastWrite, gpa: UInt64(bitPattern: record.integer(gpa)))
        case .schedSwitch(let prevComm, let prevPid, let prevState, let nextComm, let nextPid):
            event.kind = .schedSwitch
            event.tid = Int32(truncatingIfNeeded: record.integer(prevPid))
            event.tgid = tgids.isEmpty ? TraceEvent.unknownID : command(event.tid).tgid
            event.comm = commSymbol(record, prevComm, pid: event.tid)
            event.otherTid = Int32(truncatingIfNeeded: record.integer(nextPid))
            event.otherComm = commSymbol(record, nextComm, pid: event.otherTid)
            // R and R+ (the TASK_REPORT_MAX bit above the low byte) mean switched out while runnable.
            if record.integer(prevState) & 0xff == 0 { event.flags.insert(.prevRunnable) }
            learn(event.tid, event.comm)
            learn(event.otherTid, event.otherComm)
        case .schedWakeup(let woken, let comm):
            event.kind = .schedWakeup
            event.otherTid = Int32(truncatingIfNeeded: record.integer(woken))
            learn(event.otherTid, commSymbol(record, comm, pid: event.otherTid))
        case .irqEntry(let irq):
            event.kind = .irqHandlerEntry
            event.code = UInt32(truncatingIfNeeded: record.integer(irq))
        case .irqExit(let irq):
            event.kind = .irqHandlerExit
            event.code = UInt32(truncatingIfNeeded: record.integer(irq))
        case .syscallEnter(let id):
            event.kind = .syscallEnter
            event.code = UInt32(truncatingIfNeeded: record.integer(id))
        case .syscallExit(let id):
            event.kind = .syscallExit
            event.code = UInt32(truncatingIfNeeded: record.integer(id))
        case .other:
            event.code = handler.name
        }
        return .event
    }
}
