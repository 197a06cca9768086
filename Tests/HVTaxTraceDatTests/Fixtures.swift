import HVTaxTrace

/// Format texts as this machine's kernel (6.18) prints them under /sys/kernel/tracing/events, plus an
/// old kvm_exit (before `isa` and `vcpu_id`), so the reader is driven by the formats, not by offsets.
enum Formats {
    static let headerPage = """
    \tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
    \tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
    \tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
    \tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;

    """
    /// A 32-bit kernel's page: a 4-byte commit, data at 12.
    static let headerPage32 = """
    \tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
    \tfield: local_t commit;\toffset:8;\tsize:4;\tsigned:1;
    \tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
    \tfield: char data;\toffset:12;\tsize:4084;\tsigned:0;

    """
    static let headerEvent = """
    # compressed entry header
    \ttype_len    :    5 bits
    \ttime_delta  :   27 bits
    \tarray       :   32 bits

    \tpadding     : type == 29
    \ttime_extend : type == 30
    \ttime_stamp : type == 31
    \tdata max type_len  == 28

    """
    static let common = """
    format:
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
    \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
    \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
    \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;


    """
    static let kvmExit = """
    name: kvm_exit
    ID: 103
    \(common)\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;
    \tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;
    \tfield:u32 isa;\toffset:24;\tsize:4;\tsigned:0;
    \tfield:u64 info1;\toffset:32;\tsize:8;\tsigned:0;
    \tfield:u64 info2;\toffset:40;\tsize:8;\tsigned:0;
    \tfield:u32 intr_info;\toffset:48;\tsize:4;\tsigned:0;
    \tfield:u32 error_code;\toffset:52;\tsize:4;\tsigned:0;
    \tfield:unsigned int vcpu_id;\toffset:56;\tsize:4;\tsigned:0;
    \tfield:u64 requests;\toffset:64;\tsize:8;\tsigned:0;

    print fmt: "vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x requests 0x%016llx", REC->vcpu_id, (REC->isa == 1) ? __print_symbolic(REC->exit_reason & 0xffff, { 0, "EXCEPTION_NMI" }, { 1, "EXTERNAL_INTERRUPT" }, { 48, "EPT_VIOLATION" }) : __print_symbolic(REC->exit_reason, { 0x060, "interrupt" }, { 0x400, "npf" }), REC->guest_rip, REC->info1, REC->info2, REC->intr_info, REC->error_code, REC->requests

    """
    /// Linux 4.x: no `isa`, no `vcpu_id`; an SVM host's table in the print format.
    static let kvmExitOldSVM = """
    name: kvm_exit
    ID: 103
    \(common)\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;
    \tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;
    \tfield:u64 info1;\toffset:24;\tsize:8;\tsigned:0;
    \tfield:u64 info2;\toffset:32;\tsize:8;\tsigned:0;

    print fmt: "reason %s rip 0x%lx info %llx %llx", __print_symbolic(REC->exit_reason, { 0x060, "interrupt" }, { 0x078, "hlt" }, { 0x400, "npf" }), REC->guest_rip, REC->info1, REC->info2

    """
    static let kvmEntry = """
    name: kvm_entry
    ID: 115
    \(common)\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;
    \tfield:unsigned long rip;\toffset:16;\tsize:8;\tsigned:0;
    \tfield:bool immediate_exit;\toffset:24;\tsize:1;\tsigned:0;
    \tfield:u32 intr_info;\toffset:28;\tsize:4;\tsigned:0;
    \tfield:u32 error_code;\toffset:32;\tsize:4;\tsigned:0;

    print fmt: "vcpu %u, rip 0x%lx intr_info 0x%08x error_code 0x%08x%s", REC->vcpu_id, REC->rip, REC->intr_info, REC->error_code, REC->immediate_exit ? "[immediate exit]" : ""

    """
    static let userspaceExit = """
    name: kvm_userspace_exit
    ID: 42
    \(common)\tfield:__u32 reason;\toffset:8;\tsize:4;\tsigned:0;
    \tfield:int errno;\toffset:12;\tsize:4;\tsigned:1;

    print fmt: "reason %s (%d)", REC->errno < 0 ? (REC->errno == -4 ? "restart" : "error") : __print_symbolic(REC->reason, { 2, "KVM_EXIT_" "IO" }, { 6, "KVM_EXIT_" "MMIO" }), REC->errno < 0 ? -REC->errno : REC->reason

    """
    static let schedSwitch = """
    name: sched_switch
    ID: 372
    \(common)\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
    \tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
    \tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;
    \tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
    \tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
    \tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
    \tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;

    print fmt: "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1), "|", { 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, "T" }, { 0x00000008, "t" }, { 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, { 0x00000080, "I" }) : "R", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio

    """
    static let schedWakeup = """
    name: sched_wakeup
    ID: 374
    \(common)\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
    \tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;
    \tfield:int prio;\toffset:28;\tsize:4;\tsigned:1;
    \tfield:int target_cpu;\toffset:32;\tsize:4;\tsigned:1;

    print fmt: "comm=%s pid=%d prio=%d target_cpu=%03d", REC->comm, REC->pid, REC->prio, REC->target_cpu

    """
    static let irqEntry = """
    name: irq_handler_entry
    ID: 225
    \(common)\tfield:int irq;\toffset:8;\tsize:4;\tsigned:1;
    \tfield:__data_loc char[] name;\toffset:12;\tsize:4;\tsigned:0;

    print fmt: "irq=%d name=%s", REC->irq, __get_str(name)

    """
    static let irqExit = """
    name: irq_handler_exit
    ID: 224
    \(common)\tfield:int irq;\toffset:8;\tsize:4;\tsigned:1;
    \tfield:int ret;\toffset:12;\tsize:4;\tsigned:1;

    print fmt: "irq=%d ret=%s", REC->irq, REC->ret ? "handled" : "unhandled"

    """
    static let kvmPio = """
    name: kvm_pio
    ID: 110
    \(common)\tfield:unsigned int rw;\toffset:8;\tsize:4;\tsigned:0;
    \tfield:unsigned int port;\toffset:12;\tsize:4;\tsigned:0;
    \tfield:unsigned int size;\toffset:16;\tsize:4;\tsigned:0;
    \tfield:unsigned int count;\toffset:20;\tsize:4;\tsigned:0;
    \tfield:unsigned int val;\toffset:24;\tsize:4;\tsigned:0;

    print fmt: "pio_%s at 0x%x size %d count %d val 0x%x %s", REC->rw ? "write" : "read", REC->port, REC->size, REC->count, REC->val, REC->count > 1 ? "(...)" : ""

    """

    static func metadata(kvmExit: String = kvmExit, headerPage: String = headerPage, bigEndian: Bool = false) -> TraceDatMetadata {
        var meta = TraceDatMetadata(pageSize: 4096, headerPage: headerPage, headerEvent: headerEvent)
        meta.bigEndian = bigEndian
        meta.eventSystems = [
            ("kvm", [kvmExit, kvmEntry, userspaceExit, kvmPio]),
            ("sched", [schedSwitch, schedWakeup]),
            ("irq", [irqEntry, irqExit]),
        ]
        meta.commandLines = "1000 qemu-system-x86\n1001 CPU 0/KVM\n1002 CPU 1/KVM\n"
        meta.cpuStats = ["CPU: 0\nentries: 0\noverrun: 0\n", "CPU: 1\nentries: 0\noverrun: 0\n"]
        meta.uname = "Linux test 6.18.0 x86_64"
        meta.threadGroups = [(1001, 1000), (1002, 1000)]
        return meta
    }
}

/// Builds event payloads field by field at the offsets of a format text.
struct RecordBuilder {
    var bytes: [UInt8]
    let bigEndian: Bool

    init(size: Int, id: UInt16, pid: Int32, bigEndian: Bool = false) {
        bytes = [UInt8](repeating: 0, count: size)
        self.bigEndian = bigEndian
        put(0, 2, UInt64(id))
        put(4, 4, UInt64(UInt32(bitPattern: pid)))
    }

    mutating func put(_ offset: Int, _ size: Int, _ value: UInt64) {
        for i in 0..<size {
            let shift = bigEndian ? (size - 1 - i) * 8 : i * 8
            bytes[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(shift))
        }
    }

    mutating func put(_ offset: Int, string: String, size: Int) {
        for (i, byte) in string.utf8.prefix(size - 1).enumerated() { bytes[offset + i] = byte }
    }

    static func kvmExit(pid: Int32, reason: UInt32, isa: UInt32, vcpu: UInt32) -> [UInt8] {
        var r = RecordBuilder(size: 72, id: 103, pid: pid)
        r.put(8, 4, UInt64(reason))
        r.put(24, 4, UInt64(isa))
        r.put(56, 4, UInt64(vcpu))
        return r.bytes
    }

    static func kvmExitOld(pid: Int32, reason: UInt32) -> [UInt8] {
        var r = RecordBuilder(size: 40, id: 103, pid: pid)
        r.put(8, 4, UInt64(reason))
        return r.bytes
    }

    static func kvmEntry(pid: Int32, vcpu: UInt32) -> [UInt8] {
        var r = RecordBuilder(size: 36, id: 115, pid: pid)
        r.put(8, 4, UInt64(vcpu))
        return r.bytes
    }

    static func userspaceExit(pid: Int32, reason: UInt32, errno: Int32 = 0) -> [UInt8] {
        var r = RecordBuilder(size: 16, id: 42, pid: pid)
        r.put(8, 4, UInt64(reason))
        r.put(12, 4, UInt64(UInt32(bitPattern: errno)))
        return r.bytes
    }

    static func schedSwitch(prev: String, prevPid: Int32, state: Int64, next: String, nextPid: Int32) -> [UInt8] {
        var r = RecordBuilder(size: 64, id: 372, pid: prevPid)
        r.put(8, string: prev, size: 16)
        r.put(24, 4, UInt64(UInt32(bitPattern: prevPid)))
        r.put(32, 8, UInt64(bitPattern: state))
        r.put(40, string: next, size: 16)
        r.put(56, 4, UInt64(UInt32(bitPattern: nextPid)))
        return r.bytes
    }

    static func schedWakeup(waker: Int32, comm: String, pid: Int32) -> [UInt8] {
        var r = RecordBuilder(size: 36, id: 374, pid: waker)
        r.put(8, string: comm, size: 16)
        r.put(24, 4, UInt64(UInt32(bitPattern: pid)))
        return r.bytes
    }

    static func irqEntry(pid: Int32, irq: Int32, name: String) -> [UInt8] {
        var r = RecordBuilder(size: 16 + name.utf8.count + 1, id: 225, pid: pid)
        r.put(8, 4, UInt64(UInt32(bitPattern: irq)))
        r.put(12, 4, UInt64(16) | UInt64(name.utf8.count + 1) << 16)
        r.put(16, string: name, size: name.utf8.count + 1)
        return r.bytes
    }

    static func irqExit(pid: Int32, irq: Int32) -> [UInt8] {
        var r = RecordBuilder(size: 16, id: 224, pid: pid)
        r.put(8, 4, UInt64(UInt32(bitPattern: irq)))
        r.put(12, 4, 1)
        return r.bytes
    }

    static func pio(pid: Int32, port: UInt32, value: UInt32) -> [UInt8] {
        var r = RecordBuilder(size: 28, id: 110, pid: pid)
        r.put(8, 4, 1)
        r.put(12, 4, UInt64(port))
        r.put(16, 4, 1)
        r.put(20, 4, 1)
        r.put(24, 4, UInt64(value))
        return r.bytes
    }
}

/// Builds ring-buffer pages the way the kernel writes them: a page header (timestamp, commit with
/// flags) and records with 5-bit type/length, 27-bit time deltas, time extends and absolute stamps.
struct PageBuilder {
    let pageSize: Int
    let bigEndian: Bool
    let commitSize: Int
    var pages: [UInt8] = []
    private var data: [UInt8] = []
    private var pageTime: UInt64 = 0
    private var lastTime: UInt64 = 0
    private var lost: UInt64?
    private var lostStored = true
    private var open = false

    var dataOffset: Int { 8 + commitSize }

    init(pageSize: Int = 4096, bigEndian: Bool = false, commitSize: Int = 8) {
        self.pageSize = pageSize
        self.bigEndian = bigEndian
        self.commitSize = commitSize
    }

    private func word(_ value: UInt64, _ size: Int) -> [UInt8] {
        (0..<size).map { i in UInt8(truncatingIfNeeded: value >> UInt64(bigEndian ? (size - 1 - i) * 8 : i * 8)) }
    }

    private func header(type: UInt32, delta: UInt32) -> [UInt8] {
        word(UInt64(type & 31 | delta << 5), 4)
    }

    /// Starts a page at `time`; `lost` marks dropped events before it (nil count: not stored).
    mutating func startPage(time: UInt64, lost: UInt64?? = .none) {
        if open { finishPage() }
        open = true
        pageTime = time
        lastTime = time
        data = []
        switch lost {
        case .none: self.lost = nil
        case .some(.none): self.lost = 0; lostStored = false
        case .some(.some(let n)): self.lost = n; lostStored = true
        }
    }

    mutating func finishPage() {
        guard open else { return }
        open = false
        var commit = UInt64(data.count)
        var tail: [UInt8] = []
        if let lost {
            commit |= 1 << 31
            if lostStored {
                commit |= 1 << 30
                tail = word(lost, commitSize)
            }
        }
        var page = word(pageTime, 8) + word(commit, commitSize) + data + tail
        page += [UInt8](repeating: 0, count: pageSize - page.count)
        pages += page
    }

    var room: Int { pageSize - dataOffset - data.count }

    /// Adds a record at absolute `time`, with a time extend when the delta does not fit 27 bits.
    mutating func add(_ payload: [UInt8], time: UInt64, forceLong: Bool = false) {
        var delta = time - lastTime
        if delta >= 1 << 27 {
            data += header(type: 30, delta: UInt32(delta & ((1 << 27) - 1))) + word(delta >> 27, 4)
            delta = 0
        }
        let padded = (payload.count + 3) & ~3
        if padded <= 28 * 4 && !forceLong {
            data += header(type: UInt32(padded / 4), delta: UInt32(delta)) + payload
        } else {
            data += header(type: 0, delta: UInt32(delta)) + word(UInt64(payload.count + 4), 4) + payload
        }
        data += [UInt8](repeating: 0, count: padded - payload.count)
        lastTime = time
    }

    /// An absolute timestamp record (type 31): the low 59 bits; the top 5 come from the page.
    mutating func absolute(_ time: UInt64) {
        let low = time & ((1 << 59) - 1)
        data += header(type: 31, delta: UInt32(low & ((1 << 27) - 1))) + word(low >> 27, 4)
        lastTime = time
    }

    /// A discarded event: padding with a non-zero delta whose length is in array[0].
    mutating func discarded(bytes: Int, delta: UInt32) {
        data += header(type: 29, delta: delta) + word(UInt64(bytes), 4) + [UInt8](repeating: 0xee, count: bytes - 4)
        lastTime += UInt64(delta)
    }

    /// Padding with a zero delta: the rest of the page is unused.
    mutating func endPadding() {
        data += header(type: 29, delta: 0) + [0, 0, 0, 0]
    }

    mutating func build() -> [UInt8] {
        finishPage()
        return pages
    }
}
