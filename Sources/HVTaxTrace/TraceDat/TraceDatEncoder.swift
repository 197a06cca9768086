#if canImport(Glibc)
import Glibc
#endif
import HVTaxEvents
import HVTaxModel

/// Turns events read from any trace (text, perf, LTTng) into a trace.dat, in the layout of Linux
/// 6.18's formats (`ReferenceFormats`): a binary copy hvtax and trace-cmd read much faster than
/// text. Events with no kernel record to stand for them (`other`) are counted, not written.
public final class TraceDatEncoder {
    public static let pageSize = 4096

    private final class CPUPages {
        var pages: [UInt8] = []
        var page = [UInt8](repeating: 0, count: TraceDatEncoder.pageSize)
        var used = 0
        var pageTime: UInt64 = 0
        var lastTime: UInt64 = 0
        var open = false
        var lostBeforeNextPage: UInt64?
        /// A gap of unknown size is among them: the page is flagged without a count, as the kernel
        /// does when it cannot store one (a count would claim to know the size).
        var lostCountUnknown = false
        var spoolFD: Int32 = -1
        var spoolPath = ""
        var spooledBytes: UInt64 = 0
    }

    private var cpus: [CPUPages] = []
    private let symbols: SymbolTable
    private var commands: [Int32: UInt32] = [:]
    private var threadGroups: [Int32: Int32] = [:]
    /// Reason symbol -> its code and ISA (1 VMX, 2 SVM), as kvm_exit's exit_reason and isa hold them.
    private var reasonCodes: [UInt32: (code: UInt32, isa: UInt32)] = [:]
    /// Spool pages to files in this directory instead of memory (large traces).
    private let spoolDirectory: String?
    public private(set) var written: UInt64 = 0
    public private(set) var skippedOther: UInt64 = 0
    public private(set) var skippedUnknownReason: UInt64 = 0
    /// Written as the TRACEID option: a guest file's identity, which the host's GUEST option names.
    public var traceID: UInt64?
    /// Written as GUEST options (a host file): which host thread runs each vCPU of each guest.
    public var guests: [TraceDatFile.Guest] = []
    /// Written as the TIME_SHIFT option (a guest file): how its clock maps onto the host's.
    public var timeShift: TraceDatFile.TimeShift?

    static let dataOffset = 16
    static let capacity = pageSize - dataOffset

    public init(symbols: SymbolTable, spoolDirectory: String? = nil) {
        self.symbols = symbols
        self.spoolDirectory = spoolDirectory
    }

    deinit {
        for cpu in cpus where cpu.spoolFD >= 0 { close(cpu.spoolFD) }
    }

    /// A spool file with no name, so nothing is left in the user's folder however the process ends
    /// (SIGTERM or SIGKILL included): O_TMPFILE, or where the file system lacks it a file unlinked
    /// as soon as it is open.
    private static func openSpool(in directory: String, named path: String) -> Int32 {
        // glibc's __O_TMPFILE already includes O_DIRECTORY: it is O_TMPFILE, which Swift does not import.
        let anonymous = open(directory, __O_TMPFILE | O_RDWR | O_CLOEXEC, 0o600)
        if anonymous >= 0 { return anonymous }
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 { unlink(path) }
        return fd
    }

    /// The numeric exit reason for a reason name, from the kernel's VMX and SVM tables. SVM codes
    /// take all 32 bits (SEV-ES `vmgexit_*` from 0x80000001, `invalid_guest_state` is -1); VMX's
    /// bit 31 is FAILED_VMENTRY, set from the event's flag.
    private func reasonCode(_ symbol: UInt32, failed: Bool) -> (code: UInt32, isa: UInt32)? {
        let failedBit = failed ? ExitReasonTable.vmxFailedEntryBit : 0
        if let known = reasonCodes[symbol] { return (known.isa == 1 ? known.code | failedBit : known.code, known.isa) }
        let name = symbols.reasons.string(symbol)
        if let code = ExitReasonTable.vmx.first(where: { $0.value == name })?.key {
            reasonCodes[symbol] = (code, 1)
            return (code | failedBit, 1)
        }
        if let code = ExitReasonTable.svm.first(where: { $0.value == name })?.key {
            reasonCodes[symbol] = (code, 2)
            return (code, 2)
        }
        return nil
    }

    private func put(_ bytes: inout [UInt8], _ offset: Int, _ size: Int, _ value: UInt64) {
        for i in 0..<size { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * i)) }
    }

    private func put(_ bytes: inout [UInt8], _ offset: Int, comm symbol: UInt32) {
        guard symbol != 0 else { return }
        let name = symbols.names.string(symbol).utf8.prefix(15)
        for (i, byte) in name.enumerated() { bytes[offset + i] = byte }
    }

    private func record(id: UInt16, size: Int, pid: Int32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        put(&bytes, 0, 2, UInt64(id))
        put(&bytes, 4, 4, UInt64(UInt32(bitPattern: pid)))
        return bytes
    }

    /// Adds one event; events of one CPU must come in time order.
    public func add(_ event: TraceEvent) throws(TraceDatWriteError) {
        let cpuIndex = Int(max(0, event.cpu))
        while cpus.count <= cpuIndex { cpus.append(CPUPages()) }
        if event.tid >= 0 && event.comm != 0 && event.kind != .lost { commands[event.tid] = event.comm }
        if event.tid > 0 && event.tgid > 0 { threadGroups[event.tid] = event.tgid }
        var payload: [UInt8]
        switch event.kind {
        case .kvmExit:
            guard let (code, isa) = reasonCode(event.code, failed: event.flags.contains(.failedVMEntry)) else {
                skippedUnknownReason += 1
                return
            }
            payload = record(id: 103, size: 72, pid: event.tid)
            put(&payload, 8, 4, UInt64(code))
            put(&payload, 24, 4, UInt64(isa))
            put(&payload, 56, 4, UInt64(UInt32(bitPattern: event.vcpu)))
        case .kvmEntry:
            payload = record(id: 115, size: 36, pid: event.tid)
            put(&payload, 8, 4, UInt64(UInt32(bitPattern: event.vcpu)))
        case .userspaceExit:
            payload = record(id: 42, size: 16, pid: event.tid)
            put(&payload, 8, 4, UInt64(event.code))
            put(&payload, 12, 4, event.value)
        case .pio:
            payload = record(id: 110, size: 28, pid: event.tid)
            put(&payload, 8, 4, event.flags.contains(.write) ? 1 : 0)
            put(&payload, 12, 4, UInt64(event.code))
            put(&payload, 16, 4, event.value)
            put(&payload, 20, 4, 1)
        case .mmio where event.code == MMIOAccess.fastWrite.rawValue:
            payload = record(id: 109, size: 16, pid: event.tid)
            put(&payload, 8, 8, event.value)
        case .mmio:
            payload = record(id: 38, size: 32, pid: event.tid)
            put(&payload, 8, 4, UInt64(event.code))
            put(&payload, 16, 8, event.value)
        case .schedSwitch:
            payload = record(id: 372, size: 64, pid: event.tid)
            put(&payload, 8, comm: event.comm)
            put(&payload, 24, 4, UInt64(UInt32(bitPattern: event.tid)))
            put(&payload, 28, 4, 120)
            // R+ (TASK_REPORT_MAX) when preempted, S when it blocked.
            put(&payload, 32, 8, event.flags.contains(.prevRunnable) ? 0x100 : 1)
            put(&payload, 40, comm: event.otherComm)
            put(&payload, 56, 4, UInt64(UInt32(bitPattern: event.otherTid)))
            put(&payload, 60, 4, 120)
            if event.otherTid >= 0 && event.otherComm != 0 { commands[event.otherTid] = event.otherComm }
        case .schedWakeup:
            payload = record(id: 374, size: 36, pid: event.tid)
            put(&payload, 8, comm: commands[event.otherTid] ?? 0)
            put(&payload, 24, 4, UInt64(UInt32(bitPattern: event.otherTid)))
            put(&payload, 28, 4, 120)
            put(&payload, 32, 4, UInt64(UInt32(bitPattern: event.cpu)))
        case .irqHandlerEntry:
            payload = record(id: 225, size: 20, pid: event.tid)
            put(&payload, 8, 4, UInt64(event.code))
            put(&payload, 12, 4, 16 | 1 << 16)  // an empty __data_loc name at 16
        case .irqHandlerExit:
            payload = record(id: 224, size: 16, pid: event.tid)
            put(&payload, 8, 4, UInt64(event.code))
            put(&payload, 12, 4, 1)
        case .syscallEnter:
            payload = record(id: 443, size: 64, pid: event.tid)
            put(&payload, 8, 8, UInt64(event.code))
        case .syscallExit:
            payload = record(id: 442, size: 24, pid: event.tid)
            put(&payload, 8, 8, UInt64(event.code))
        case .lost:
            // The kernel flags lost events on the first page written after them.
            try finishPage(cpuIndex)
            let cpu = cpus[cpuIndex]
            cpu.lostBeforeNextPage = (cpu.lostBeforeNextPage ?? 0) + event.value
            if event.flags.contains(.countUnknown) { cpu.lostCountUnknown = true }
            return
        case .other:
            skippedOther += 1
            return
        }
        try append(payload, time: event.time, cpu: cpuIndex)
        written += 1
    }

    private func append(_ payload: [UInt8], time: UInt64, cpu index: Int) throws(TraceDatWriteError) {
        let cpu = cpus[index]
        let padded = (payload.count + 3) & ~3
        let needed = 4 + padded + 8  // header, payload, and room for a time extend
        if cpu.open && cpu.used + needed > Self.capacity { try finishPage(index) }
        if !cpu.open {
            cpu.open = true
            cpu.used = 0
            cpu.pageTime = time
            cpu.lastTime = time
        }
        var delta = time >= cpu.lastTime ? time - cpu.lastTime : 0
        func word(_ value: UInt32) {
            put(&cpu.page, Self.dataOffset + cpu.used, 4, UInt64(value))
            cpu.used += 4
        }
        if delta >= 1 << 27 {
            word(30 | UInt32(delta & ((1 << 27) - 1)) << 5)
            word(UInt32(truncatingIfNeeded: delta >> 27))
            delta = 0
        }
        word(UInt32(padded / 4) | UInt32(delta) << 5)
        for (i, byte) in payload.enumerated() { cpu.page[Self.dataOffset + cpu.used + i] = byte }
        cpu.used += padded
        cpu.lastTime = max(time, cpu.lastTime)
    }

    private func finishPage(_ index: Int) throws(TraceDatWriteError) {
        let cpu = cpus[index]
        guard cpu.open || cpu.lostBeforeNextPage != nil else { return }
        if !cpu.open {
            // Events lost at the very end: an empty page carries the marker.
            cpu.pageTime = cpu.lastTime
            cpu.used = 0
        }
        cpu.open = false
        var commit = UInt64(cpu.used)
        if let lost = cpu.lostBeforeNextPage {
            // The kernel flags missed events on the page after them, with the count after the data.
            if cpu.lostCountUnknown {
                commit |= 1 << 31
            } else {
                commit |= 1 << 31 | 1 << 30
                put(&cpu.page, Self.dataOffset + cpu.used, 8, lost)
            }
            cpu.lostBeforeNextPage = nil
            cpu.lostCountUnknown = false
        }
        put(&cpu.page, 0, 8, cpu.pageTime)
        put(&cpu.page, 8, 8, commit)
        if let spoolDirectory {
            if cpu.spoolFD < 0 {
                cpu.spoolPath = spoolDirectory + "/hvtax-encode-\(getpid())-cpu\(index)"
                cpu.spoolFD = Self.openSpool(in: spoolDirectory, named: cpu.spoolPath)
                guard cpu.spoolFD >= 0 else { throw TraceDatWriteError(path: cpu.spoolPath, errno: errno) }
            }
            let n = cpu.page.withUnsafeBytes { Glibc.write(cpu.spoolFD, $0.baseAddress!, $0.count) }
            guard n == Self.pageSize else { throw TraceDatWriteError(path: cpu.spoolPath, errno: errno) }
            cpu.spooledBytes += UInt64(n)
        } else {
            cpu.pages.append(contentsOf: cpu.page)
        }
        for i in 0..<cpu.page.count { cpu.page[i] = 0 }
    }

    /// Writes the trace.dat: metadata with the reference formats, then every CPU's pages.
    public func finish(to output: TraceDatOutput, version: TraceDatVersion = .v6) throws(TraceDatWriteError) {
        for index in cpus.indices {
            let pending = cpus[index].lostBeforeNextPage != nil && cpus[index].open
            try finishPage(index)
            if pending { try finishPage(index) }
        }
        var meta = TraceDatMetadata(pageSize: Self.pageSize, headerPage: ReferenceFormats.headerPage, headerEvent: ReferenceFormats.headerEvent)
        meta.eventSystems = [
            ("kvm", [ReferenceFormats.kvmExit, ReferenceFormats.kvmEntry, ReferenceFormats.userspaceExit,
                     ReferenceFormats.kvmPio, ReferenceFormats.kvmMMIO, ReferenceFormats.kvmFastMMIO]),
            ("sched", [ReferenceFormats.schedSwitch, ReferenceFormats.schedWakeup]),
            ("irq", [ReferenceFormats.irqEntry, ReferenceFormats.irqExit]),
            ("raw_syscalls", [ReferenceFormats.sysEnter, ReferenceFormats.sysExit]),
        ]
        meta.traceID = traceID
        meta.guests = guests
        meta.timeShift = timeShift
        meta.commandLines = commands.sorted { $0.key < $1.key }.map { "\($0.key) \(symbols.names.string($0.value))\n" }.joined()
        meta.threadGroups = threadGroups.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let pages: [TraceDatCPUPages] = cpus.map { cpu in
            if spoolDirectory != nil {
                return cpu.spoolFD >= 0 ? .descriptor(cpu.spoolFD, name: cpu.spoolPath) : .bytes([])
            }
            return .bytes(cpu.pages)
        }
        try TraceDatWriter.write(meta, cpus: pages, version: version, to: output)
    }
}
