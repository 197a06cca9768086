/// Formats synthesized events as text trace lines into one large byte buffer, without Strings on
/// the way, so a 10-million-event trace is written in seconds.
struct LineWriter {
    let format: TraceSynthesizer.Configuration.Format
    private var buffer: [UInt8] = []
    private static let flushBytes = 1 << 20

    init(format: TraceSynthesizer.Configuration.Format) {
        self.format = format
        buffer.reserveCapacity(Self.flushBytes + 4096)
    }

    mutating func flushIfFull(_ write: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        if buffer.count >= Self.flushBytes { try flush(write) }
    }

    mutating func flush(_ write: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try buffer.withUnsafeBytes { try write($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    mutating func append(_ event: SynthEvent, vcpu: SimulatedVCPU) {
        let comm = "CPU \(vcpu.vcpu)/KVM"
        switch event.kind {
        case .lost(let count):
            text("CPU:")
            number(UInt64(vcpu.cpu))
            text(" [LOST ")
            number(count)
            text(" EVENTS]\n")
            return
        case .switchIn:
            prefix(comm: format == .ftrace ? "<idle>" : "swapper", pid: 0, tid: 0, cpu: vcpu.cpu, time: event.time, idle: true)
        default:
            prefix(comm: comm, pid: vcpu.pid, tid: vcpu.tid, cpu: vcpu.cpu, time: event.time, idle: false)
        }
        let system = format == .perf
        switch event.kind {
        case .entry:
            text(system ? "kvm:kvm_entry: vcpu " : "kvm_entry: vcpu ")
            number(UInt64(vcpu.vcpu))
            text(", rip 0xffffffff81001234\n")
        case .exit(let reason):
            text(system ? "kvm:kvm_exit: vcpu " : "kvm_exit: vcpu ")
            number(UInt64(vcpu.vcpu))
            text(" reason ")
            text(reason)
            text(" rip 0xffffffff81001234 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000\n")
        case .userspaceExit:
            text(system ? "kvm:kvm_userspace_exit: reason KVM_EXIT_IO (2)\n" : "kvm_userspace_exit: reason KVM_EXIT_IO (2)\n")
        case .switchOut(let runnable):
            text(system ? "sched:sched_switch: prev_comm=" : "sched_switch: prev_comm=")
            text(comm)
            text(" prev_pid=")
            number(UInt64(vcpu.tid))
            text(runnable ? " prev_prio=120 prev_state=R+ ==> next_comm=swapper/" : " prev_prio=120 prev_state=S ==> next_comm=swapper/")
            number(UInt64(vcpu.cpu))
            text(" next_pid=0 next_prio=120\n")
        case .switchIn:
            text(system ? "sched:sched_switch: prev_comm=swapper/" : "sched_switch: prev_comm=swapper/")
            number(UInt64(vcpu.cpu))
            text(" prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=")
            text(comm)
            text(" next_pid=")
            number(UInt64(vcpu.tid))
            text(" next_prio=120\n")
        case .irqEntry:
            text(system ? "irq:irq_handler_entry: irq=24 name=virtio0-input.0\n" : "irq_handler_entry: irq=24 name=virtio0-input.0\n")
        case .irqExit:
            text(system ? "irq:irq_handler_exit: irq=24 ret=handled\n" : "irq_handler_exit: irq=24 ret=handled\n")
        case .lost:
            break
        }
    }

    /// ftrace: `CPU 0/KVM-1001 (   1000) [000] d.... 1.000001: `; perf: `CPU 0/KVM 1000/1001 [000] 1.000001000: `.
    private mutating func prefix(comm: String, pid: Int32, tid: Int32, cpu: Int32, time: UInt64, idle: Bool) {
        switch format {
        case .ftrace:
            text(comm)
            text("-")
            number(UInt64(tid))
            if idle {
                text(" (-------) [")
            } else {
                text(" (")
                padded(UInt64(pid), width: 7, pad: 0x20)
                text(") [")
            }
            padded(UInt64(cpu), width: 3, pad: 0x30)
            text("] d.... ")
            number(time / 1_000_000_000)
            text(".")
            padded(time % 1_000_000_000 / 1_000, width: 6, pad: 0x30)
            text(": ")
        case .perf:
            text(comm)
            text(" ")
            number(UInt64(pid))
            text("/")
            number(UInt64(tid))
            text(" [")
            padded(UInt64(cpu), width: 3, pad: 0x30)
            text("] ")
            number(time / 1_000_000_000)
            text(".")
            padded(time % 1_000_000_000, width: 9, pad: 0x30)
            text(": ")
        }
    }

    private mutating func text(_ string: String) {
        var copy = string
        copy.withUTF8 { buffer.append(contentsOf: $0) }
    }

    private mutating func text(_ string: StaticString) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }

    private mutating func number(_ value: UInt64) {
        if value == 0 {
            buffer.append(0x30)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            while rest > 0 {
                raw[count] = UInt8(rest % 10) + 0x30
                rest /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { buffer.append(raw[index]) }
        }
    }

    private mutating func padded(_ value: UInt64, width: Int, pad: UInt8) {
        var length = 1
        var rest = value / 10
        while rest > 0 {
            length += 1
            rest /= 10
        }
        for _ in length..<max(width, length) { buffer.append(pad) }
        number(value)
    }
}
