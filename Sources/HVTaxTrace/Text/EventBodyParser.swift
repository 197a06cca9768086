import HVTaxEvents
import HVTaxModel

/// Parses the bodies of the events the analysis uses, in every generation the reference lists:
/// the kernel's print formats, libtraceevent's plugin formats and `-R` raw `field=value` lists.
struct EventBodyParser {
    let symbols: SymbolTable

    enum ExitStyle { case withVCPU, withoutVCPU, raw }

    /// kvm_exit:
    ///     vcpu 0 reason EXCEPTION_NMI rip 0xfd0bd info1 0x0... (5.10+; `reason X FAILED_VMENTRY`)
    ///     vcpu 1 reason npf rip 0xfd11d info 100000014 fd000     (5.7-5.9)
    ///     reason EPT_MISCONFIG rip 0xffffffffa0632f49 info 0 0   (older kernels, libtraceevent plugin)
    ///     reason EXIT_NPF rip 0xffffffffffbbe119 info 200000006 1ab000   (the plugin on AMD: its names)
    ///     exit_reason=49 guest_rip=0x... isa=1 ... vcpu_id=0      (trace-cmd report -R)
    /// Reasons may contain spaces (`PF excp`), so the reason runs up to ` rip `.
    func exit(_ body: UnsafeRawBufferPointer, into event: inout TraceEvent) -> ExitStyle? {
        event.vcpu = TraceEvent.unknownID
        if body.matches("exit_reason=", at: 0) { return rawExit(body, into: &event) }
        var i = 0
        var style = ExitStyle.withoutVCPU
        if body.matches("vcpu ", at: 0) {
            i = 5
            guard let vcpu = body.decimal(at: &i) else { return nil }
            event.vcpu = Int32(truncatingIfNeeded: vcpu)
            i = body.skipSpaces(from: i)
            style = .withVCPU
        }
        guard body.matches("reason ", at: i) else { return nil }
        let start = i + 7
        guard var end = body.find(" rip ", from: start) else { return nil }
        let failedSuffix: StaticString = " FAILED_VMENTRY"
        let suffixLength = failedSuffix.utf8CodeUnitCount
        if end - start > suffixLength, body.matches(failedSuffix, at: end - suffixLength) {
            end -= suffixLength
            event.flags.insert(.failedVMEntry)
        }
        guard end > start else { return nil }
        var k = start
        if body.decimal(at: &k) != nil, k == end {
            // A bare number: the reason has no name in the printing side's table.
            event.code = symbols.reasons.intern("UNKNOWN (\(body.slice(start, end).text))")
        } else {
            event.code = symbols.kernelReason(symbols.reasons.intern(body.slice(start, end), readableBytes: body.count - start))
        }
        return style
    }

    private func rawExit(_ body: UnsafeRawBufferPointer, into event: inout TraceEvent) -> ExitStyle? {
        guard let reason = field("exit_reason=", in: body) else { return nil }
        let isa: ISA
        switch field("isa=", in: body) {
        case 1: isa = .vmx
        case 2: isa = .svm
        default: isa = .unknown
        }
        if let vcpu = field("vcpu_id=", in: body) { event.vcpu = Int32(truncatingIfNeeded: vcpu) }
        let code = UInt32(truncatingIfNeeded: reason)
        if isa == .vmx, code & ExitReasonTable.vmxFailedEntryBit != 0 { event.flags.insert(.failedVMEntry) }
        event.code = symbols.reason(code: code, isa: isa)
        return .raw
    }

    /// kvm_entry: `vcpu 0`, `vcpu 0, rip 0x...`, `vcpu 0 rip 0x...` (plugin), `vcpu_id=0 ...` (raw).
    func entry(_ body: UnsafeRawBufferPointer, into event: inout TraceEvent) -> Bool {
        if body.matches("vcpu ", at: 0) {
            var i = 5
            guard let vcpu = body.decimal(at: &i) else { return false }
            event.vcpu = Int32(truncatingIfNeeded: vcpu)
            return true
        }
        if let vcpu = field("vcpu_id=", in: body) {
            event.vcpu = Int32(truncatingIfNeeded: vcpu)
            return true
        }
        return false
    }

    /// kvm_userspace_exit: `reason KVM_EXIT_IO (2)`, `reason restart (4)` (errno -4), raw
    /// `reason=2 errno=0` or `reason=0 errno=-4`, or with the `fields` option `reason=0x0 (0)
    /// errno=0xfffffffc (-4)`. Every form gives what a trace.dat of the same record gives.
    func userspaceExit(_ body: UnsafeRawBufferPointer, into event: inout TraceEvent) -> Bool {
        event.vcpu = TraceEvent.unknownID
        if body.matches("reason ", at: 0) {
            var printed: UInt64 = 0
            if let open = body.find("(", from: 7) {
                var i = open + 1
                printed = body.decimal(at: &i) ?? 0
            }
            // The kernel prints `restart` (-EINTR) or `error` and -errno in place of a reason name.
            let failed = body.matches("restart ", at: 7) || body.matches("error ", at: 7)
            event.setUserspaceExit(reason: printed, errno: failed ? -Int64(truncatingIfNeeded: printed) : nil)
            return true
        }
        if let reason = field("reason=", in: body) {
            // errno is an `int`: the `fields` option prints -4 as 0xfffffffc, trace-cmd's raw form as -4.
            let errno = signedField("errno=", in: body).map { Int64(Int32(truncatingIfNeeded: $0)) }
            event.setUserspaceExit(reason: reason, errno: errno)
            return true
        }
        return false
    }

    /// kvm_pio: `pio_write at 0x3f8 size 1 count 1 val 0x41 `, raw `rw=1 port=1016 size=1 count=1 val=65`.
    func pio(_ body: UnsafeRawBufferPointer, into event: inout TraceEvent) -> Bool {
        let port: UInt64, size: UInt64?
        let write: Bool
        if body.matches("pio_", at: 0) {
            if body.matches("write at 0x", at: 4) {
                write = true
            } else if body.matches("read at 0x", at: 4) {
                write = false
            } else {
                return false
            }
            guard let at = body.find(" at 0x"), let value = Self.hex(body, at: at + 6) else { return false }
            port = value
            size = field("size ", in: body)
        } else {
            guard let rw = field("rw=", in: body), let value = field("port=", in: body) else { return false }
            write = rw != 0
            port = value
            size = field("size=", in: body)
        }
        event.setPortIO(port: port, size: size ?? 0, write: write)
        return true
    }

    /// kvm_mmio: `mmio write len 4 gpa 0xfee000b0 val 0x0` (`read`, `unsatisfied-read`), raw
    /// `type=2 len=4 gpa=4276093104 val=0`. kvm_fast_mmio: `fast mmio at gpa 0xfebf1000`, raw `gpa=N`.
    func mmio(_ body: UnsafeRawBufferPointer, into event: inout TraceEvent) -> Bool {
        let access: MMIOAccess
        let gpa: UInt64
        if body.matches("fast mmio at gpa 0x", at: 0) {
            guard let value = Self.hex(body, at: 19) else { return false }
            access = .fastWrite
            gpa = value
        } else if body.matches("mmio ", at: 0) {
            if body.matches("write ", at: 5) {
                access = .write
            } else if body.matches("read ", at: 5) {
                access = .read
            } else if body.matches("unsatisfied-read ", at: 5) {
                access = .unsatisfiedRead
            } else {
                return false
            }
            guard let at = body.find(" gpa 0x"), let value = Self.hex(body, at: at + 7) else { return false }
            gpa = value
        } else {
            guard let value = field("gpa=", in: body) else { return false }
            gpa = value
            if let type = field("type=", in: body) {
                guard let known = MMIOAccess(kernelType: Int64(truncatingIfNeeded: type)) else { return false }
                access = known
            } else {
                access = .fastWrite
            }
        }
        event.setMMIO(access, gpa: gpa)
        return true
    }

    /// sched_switch, the kernel's format:
    ///     prev_comm=CPU 0/KVM prev_pid=12 prev_prio=120 prev_state=R+ ==> next_comm=swapper/1 next_pid=0 next_prio=120
    /// its raw fields (`trace-cmd report -R`, prev_state a number: 0 R, 1 S, 2 D, 256 R+):
    ///     prev_comm=CPU 0/KVM prev_pid=12 prev_prio=120 prev_state=256 next_comm=swapper/1 next_pid=0 next_prio=120
    /// or libtraceevent's sched_switch plugin (trace-cmd report, perf):
    ///     CPU 0/KVM:12 [120] R+ ==> swapper/1:0 [120]
    /// Task names may contain spaces, so each runs up to the next field's key.
    func schedSwitch(_ body: UnsafeRawBufferPointer, into event: inout TraceEvent) -> Bool {
        if body.matches("prev_comm=", at: 0) {
            // Fields in order, each search starting where the last ended: one pass over the body.
            guard let prevPidAt = body.find(" prev_pid=", from: 10) else { return false }
            var i = prevPidAt + 10
            guard let prevPid = Self.number(body, at: &i) else { return false }
            guard let stateAt = body.find(" prev_state=", from: i) else { return false }
            let stateStart = stateAt + 12
            var stateEnd = stateStart
            while stateEnd < body.count, body[stateEnd] != 0x20 { stateEnd += 1 }
            // `trace-cmd report -R` and the kernel's `fields` option print the raw fields: no arrow,
            // prev_state as its number (with `fields`, `0x100 (256)`).
            var afterState = stateEnd
            if stateStart < stateEnd, body[stateStart] &- 0x30 < 10 {
                var k = stateStart
                if Self.number(body, at: &k) != nil, k > stateEnd { afterState = k }
            }
            let nextCommStart: Int
            if body.matches(" ==> next_comm=", at: afterState) {
                nextCommStart = afterState + 15
            } else if body.matches(" next_comm=", at: afterState) {
                nextCommStart = afterState + 11
            } else {
                return false
            }
            guard let nextPidAt = body.find(" next_pid=", from: nextCommStart) else { return false }
            var j = nextPidAt + 10
            guard let nextPid = Self.number(body, at: &j) else { return false }
            event.tid = Int32(truncatingIfNeeded: prevPid)
            event.otherTid = Int32(truncatingIfNeeded: nextPid)
            event.otherComm = symbols.names.intern(body.slice(nextCommStart, nextPidAt), readableBytes: body.count - nextCommStart)
            if Self.isRunnable(body.slice(stateStart, stateEnd)) { event.flags.insert(.prevRunnable) }
            return true
        }
        // Plugin form: `COMM:PID [PRIO] STATE ==> COMM:PID [PRIO]`.
        guard let arrow = body.find(" ==> "),
              let prev = Self.commPid(body, 0, arrow), let prevBracketEnd = body.find("] ", from: prev.end) else {
            return false
        }
        let (s0, s1) = body.trimmed(prevBracketEnd + 2, arrow)
        guard let next = Self.commPid(body, arrow + 5, body.count) else { return false }
        event.tid = prev.pid
        event.otherTid = next.pid
        event.otherComm = symbols.names.intern(body.slice(next.commStart, next.commEnd))
        if Self.isRunnable(body.slice(s0, s1)) { event.flags.insert(.prevRunnable) }
        return true
    }

    /// `COMM:PID [` within [from, to): the colon is the last one before ` [`.
    private static func commPid(_ body: UnsafeRawBufferPointer, _ from: Int, _ to: Int)
        -> (commStart: Int, commEnd: Int, pid: Int32, end: Int)? {
        guard let bracket = body.find(" [", from: from), bracket < to else { return nil }
        var colon = bracket - 1
        while colon > from, body[colon] != 0x3a { colon -= 1 }
        guard body[colon] == 0x3a else { return nil }
        var i = colon + 1
        guard let pid = body.decimal(at: &i), i == bracket else { return nil }
        return (from, colon, Int32(truncatingIfNeeded: pid), bracket)
    }

    /// R and R+ (and the raw numbers 0 and TASK_REPORT_MAX, decimal or `0x` hex) mean switched out
    /// while runnable.
    static func isRunnable(_ state: UnsafeRawBufferPointer) -> Bool {
        guard let first = state.first else { return false }
        if first == 0x52 /* R */ { return state.count == 1 || (state.count == 2 && state[1] == 0x2b) }
        var i = 0
        if let number = number(state, at: &i), i == state.count { return number & 0xff == 0 }
        return false
    }

    /// sched_wakeup: `comm=X pid=P prio=N target_cpu=C`, or the plugin's `COMM:PID [PRIO] ...`.
    func wakeup(_ body: UnsafeRawBufferPointer, into event: inout TraceEvent) {
        if let at = body.find(" pid=") {
            var i = at + 5
            if let pid = Self.number(body, at: &i) { event.otherTid = Int32(truncatingIfNeeded: pid) }
        } else if let task = Self.commPid(body, 0, body.count) {
            event.otherTid = task.pid
        }
    }

    /// irq_handler_entry: `irq=N name=X`; irq_handler_exit: `irq=N ret=handled`.
    func irq(_ body: UnsafeRawBufferPointer, into event: inout TraceEvent) {
        if let value = field("irq=", in: body) { event.code = UInt32(truncatingIfNeeded: value) }
    }

    /// The value of `key` (which includes its `=`, or ends in a space) at a word start: decimal,
    /// `0x...` hex, or the kernel `fields` option's `0x1e (30)` (`number`).
    private func field(_ key: StaticString, in body: UnsafeRawBufferPointer) -> UInt64? {
        guard var i = valueStart(key, in: body) else { return nil }
        return Self.number(body, at: &i)
    }

    /// A field that may be printed negative (`errno=-4`), as its two's-complement bits otherwise.
    private func signedField(_ key: StaticString, in body: UnsafeRawBufferPointer) -> Int64? {
        guard var i = valueStart(key, in: body) else { return nil }
        guard i < body.count, body[i] == 0x2d /* - */ else { return Self.number(body, at: &i).map { Int64(bitPattern: $0) } }
        i += 1
        return body.decimal(at: &i).map { -Int64(bitPattern: $0) }
    }

    /// Where the value of `key` (a whole word: at the start or after a space) begins.
    private func valueStart(_ key: StaticString, in body: UnsafeRawBufferPointer) -> Int? {
        var from = 0
        while let at = body.find(key, from: from) {
            if at == 0 || body[at - 1] == 0x20 { return at + key.utf8CodeUnitCount }
            from = at + 1
        }
        return nil
    }

    private static func hex(_ body: UnsafeRawBufferPointer, at index: Int) -> UInt64? {
        var i = index
        return hex(body, at: &i)
    }

    /// Hex digits at `index` (after a `0x`); moves `index` past them.
    private static func hex(_ body: UnsafeRawBufferPointer, at index: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var i = index
        while i < body.count {
            let c = body[i]
            let digit: UInt8
            switch c {
            case 0x30...0x39: digit = c - 0x30
            case 0x61...0x66: digit = c - 0x61 + 10
            case 0x41...0x46: digit = c - 0x41 + 10
            default: digit = 16
            }
            if digit == 16 { break }
            value = value << 4 | UInt64(digit)
            i += 1
        }
        guard i > index else { return nil }
        index = i
        return value
    }

    /// A field's number at `index`: decimal, or `0x` hex, and with the kernel's `fields` trace
    /// option (6.x: every field as `0x1e (30)`) the decimal in parentheses after it, skipped.
    /// Moves `index` past all of it.
    @inline(__always)
    static func number(_ body: UnsafeRawBufferPointer, at index: inout Int) -> UInt64? {
        var i = index
        let value: UInt64
        if i + 1 < body.count, body[i] == 0x30, body[i + 1] == 0x78 /* 0x */ {
            i += 2
            guard let parsed = hex(body, at: &i) else { return nil }
            value = parsed
        } else {
            guard let parsed = body.decimal(at: &i) else { return nil }
            value = parsed
        }
        if i + 1 < body.count, body[i] == 0x20, body[i + 1] == 0x28 /* " (" */ {
            var k = i + 2
            if k < body.count, body[k] == 0x2d /* - */ { k += 1 }
            if body.decimal(at: &k) != nil, k < body.count, body[k] == 0x29 /* ) */ { i = k + 1 }
        }
        index = i
        return value
    }
}
