#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The raw counters of one thread at one instant, from /proc/PID/task/TID/{stat,schedstat,sched|status}.
public struct ThreadCounters: Sendable, Equatable {
    public var utimeTicks: UInt64 = 0
    public var stimeTicks: UInt64 = 0
    public var guestTicks: UInt64 = 0
    /// stat field 39: the CPU the thread last ran on.
    public var lastCPU: Int = 0
    /// stat field 20, num_threads: how many threads the thread's whole process has (the kernel
    /// prints the group's count in every thread's line); 0 where the file leaves it 0. The sampler
    /// learns from it, at no extra read, whether a VM's threads changed.
    public var processThreads: UInt64 = 0
    public var onCPUNs: UInt64 = 0
    public var runDelayNs: UInt64 = 0
    public var voluntarySwitches: UInt64 = 0
    public var involuntarySwitches: UInt64 = 0
    public var migrations: UInt64?
    /// `wait_sum` of /proc/.../sched in ns: run-queue wait as CONFIG_SCHEDSTATS counts it (libvirt's
    /// vcpu.N.wait). nil where the kernel does not print it.
    public var waitSumNs: UInt64?

    public init() {}
}

/// Parsers over the bytes of small procfs and cgroup files. They work on bytes, not Strings: the
/// sampler reads a few thousand of these files per interval, and splitting Strings would cost
/// more than the reads (STYLE.md: "turn only what is needed into numbers").
public enum ProcParse {
    /// The first number of a one-value file (cpuacct.usage, a KVM debugfs counter); nil when empty.
    static func firstNumber(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        var found: UInt64?
        forEachToken(bytes) { _, value, _ in found = value; return false }
        return found
    }

    /// The whitespace-separated unsigned numbers of `bytes`, parsed as they are met; a token that
    /// is not a number is 0, so callers index fields by position as the kernel documents them.
    @inline(__always)
    static func forEachToken(_ bytes: ArraySlice<UInt8>, _ body: (Int, UInt64, ArraySlice<UInt8>) -> Bool) {
        var index = 0
        var i = bytes.startIndex
        let end = bytes.endIndex
        while i < end {
            while i < end && (bytes[i] == 32 || bytes[i] == 10 || bytes[i] == 9) { i += 1 }
            if i >= end { break }
            let start = i
            var value: UInt64 = 0
            var numeric = true
            while i < end && bytes[i] != 32 && bytes[i] != 10 && bytes[i] != 9 {
                let d = bytes[i] &- 48
                if d < 10 { value = value &* 10 &+ UInt64(d) } else { numeric = false }
                i += 1
            }
            if !body(index, numeric ? value : 0, bytes[start..<i]) { return }
            index += 1
        }
    }

    /// /proc/.../stat: utime (14), stime (15), num_threads (20), processor (39), guest_time (43). The comm field
    /// (2) is in parentheses and may itself hold spaces and ')', so fields are counted from the
    /// last ')'.
    public static func stat(_ bytes: ArraySlice<UInt8>, into c: inout ThreadCounters) -> Bool {
        bytes.withUnsafeBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            let end = buffer.count
            // The last ')' ends the comm, which may itself hold ')'.
            guard let close = lastIndex(of: 41, base, count: end) else { return false }
            return statFieldsBySpaces(base, after: close, end: end, into: &c)
                || statFieldsByWalk(base, after: close, end: end, into: &c)
        }
    }

    /// The wanted fields found by counting single spaces eight bytes at a time, as the kernel
    /// writes the line (`do_task_stat`: one space before each field): walking it a byte at a time
    /// mispredicted a branch at nearly every byte of a line of short numbers, most of its parse.
    /// false (and nothing written) when a wanted field does not start with a digit where the count
    /// puts it, so any other spacing goes to the byte walk.
    @inline(__always)
    private static func statFieldsBySpaces(_ base: UnsafePointer<UInt8>, after close: Int, end: Int,
                                           into c: inout ThreadCounters) -> Bool {
        // Field n (n >= 3) starts after the (n - 2)th space past the ')'.
        var at = close + 1
        func field(after spaces: Int) -> UInt64? {
            guard let start = afterSpaces(spaces, base, from: at, end: end), start < end, base[start] &- 48 <= 9 else { return nil }
            var value: UInt64 = 0
            at = start
            while at < end, base[at] &- 48 <= 9 {
                value = value &* 10 &+ UInt64(base[at] &- 48)
                at += 1
            }
            return value
        }
        guard let utime = field(after: 12), let stime = field(after: 1), let threads = field(after: 5),
              let processor = field(after: 19), let guest = field(after: 4) else { return false }
        c.utimeTicks = utime
        c.stimeTicks = stime
        c.processThreads = threads
        c.lastCPU = Int(clamping: processor)  // a damaged file's number past Int, not a trap
        c.guestTicks = guest
        return true
    }

    /// Where the byte after the `n`th space (n >= 1) at or after `from` is; nil when there are
    /// fewer, or when two spaces meet or a newline comes on the way (a count of spaces is then no
    /// count of fields; the kernel's line has its only newline at its end).
    @inline(__always)
    static func afterSpaces(_ n: Int, _ base: UnsafePointer<UInt8>, from: Int, end: Int) -> Int? {
        let spaces: UInt64 = 0x2020_2020_2020_2020
        let newlines: UInt64 = 0x0a0a_0a0a_0a0a_0a0a
        var left = n
        var i = from
        // The high bit set when the byte before the current word was a space.
        var spaceBefore: UInt64 = from > 0 && base[from - 1] == 32 ? 0x80 : 0
        while i + 8 <= end {
            let bytes = UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
            let matches = zeroBytes(bytes ^ spaces)
            // Spaces whose previous byte was a space too, and newlines: either makes the count wrong.
            let broken = matches & ((matches << 8) | spaceBefore) | zeroBytes(bytes ^ newlines)
            let found = matches.nonzeroBitCount
            if found >= left {
                var wanted = matches
                for _ in 1..<left { wanted &= wanted &- 1 }
                let bit = wanted & (~wanted &+ 1)
                // Only the spaces up to the wanted one must be single, with no newline before it.
                guard broken & ((bit << 1) &- 1) == 0 else { return nil }
                return i + bit.trailingZeroBitCount / 8 + 1
            }
            guard broken == 0 else { return nil }
            spaceBefore = matches >> 56
            left -= found
            i += 8
        }
        while i < end {
            if base[i] == 10 { return nil }
            if base[i] == 32 {
                if i > from ? base[i - 1] == 32 : spaceBefore != 0 { return nil }
                left -= 1
                if left == 0 { return i + 1 }
            }
            i += 1
        }
        return nil
    }

    /// The high bit of each zero byte of `x`, exactly: a byte's low seven bits carry into its bit 7
    /// unless they are all zero (no false matches, unlike the cheaper test `lastIndex` uses).
    @inline(__always)
    static func zeroBytes(_ x: UInt64) -> UInt64 {
        let low7: UInt64 = 0x7f7f_7f7f_7f7f_7f7f
        return ~(((x & low7) &+ low7) | x | low7)
    }

    /// The wanted fields by walking the line a byte at a time, taking any run of spaces and
    /// newlines as one separator.
    private static func statFieldsByWalk(_ base: UnsafePointer<UInt8>, after close: Int, end: Int,
                                         into c: inout ThreadCounters) -> Bool {
        var i = close + 1
        var field = 2  // the field the last token was; the comm just closed
        while i < end {
            while i < end && (base[i] == 32 || base[i] == 10) { i += 1 }
            guard i < end else { break }
            field += 1
            // Fields other than 14, 15, 20, 39 and 43 are skipped without being parsed.
            if field == 14 || field == 15 || field == 20 || field == 39 || field == 43 {
                var value: UInt64 = 0
                while i < end, base[i] &- 48 <= 9 {
                    value = value &* 10 &+ UInt64(base[i] &- 48)
                    i += 1
                }
                switch field {
                case 14: c.utimeTicks = value
                case 15: c.stimeTicks = value
                case 20: c.processThreads = value
                case 39: c.lastCPU = Int(clamping: value)
                default:
                    c.guestTicks = value
                    return true
                }
            }
            while i < end && base[i] != 32 && base[i] != 10 { i += 1 }
        }
        return field >= 39
    }

    /// The index of the last `byte` in `base[0..<count]`, eight bytes at a time: the comm that ends
    /// with the last ')' is near the start of a ~300-byte stat line, and walking back to it a byte at
    /// a time was a third of the parse (Glibc's memrchr is not exported to Swift).
    @inline(__always)
    static func lastIndex(of byte: UInt8, _ base: UnsafePointer<UInt8>, count: Int) -> Int? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let pattern = ones &* UInt64(byte)
        var end = count
        while end >= 8 {
            // A zero byte in word ^ pattern is a match; the high bit of the classic test marks it
            // (bytes above the first real match may be marked falsely, so they are checked one by one).
            let word = UInt64(littleEndian: UnsafeRawPointer(base + end - 8).loadUnaligned(as: UInt64.self)) ^ pattern
            if (word &- ones) & ~word & (ones &* 0x80) != 0 { break }
            end -= 8
        }
        while end > 0 {
            end -= 1
            if base[end] == byte { return end }
        }
        return nil
    }

    /// /proc/.../schedstat: on-CPU ns, run-queue wait ns, timeslices.
    public static func schedstat(_ bytes: ArraySlice<UInt8>, into c: inout ThreadCounters) -> Bool {
        var count = 0
        forEachToken(bytes) { index, value, _ in
            if index == 0 { c.onCPUNs = value } else if index == 1 { c.runDelayNs = value }
            count = index + 1
            return index < 1
        }
        return count >= 2
    }

    /// Where the wanted lines of one thread's /proc/.../sched start: the kernel prints every value
    /// right-aligned in a fixed-width column, so the lines stay where they were from one sample to
    /// the next, and a re-read checks the keys there instead of scanning ~40 lines. -1: absent.
    public struct SchedLayout: Sendable, Equatable {
        var migrations = -1
        var waitSum = -1
        /// `se.statistics.wait_sum` (before 5.13) rather than `wait_sum`.
        var waitSumOld = false
        var voluntary = -1
        var involuntary = -1
        /// Bytes up to the end of the last wanted line: how much of the file a re-read needs.
        public internal(set) var end = 0

        /// Where a re-read starts: at the newline before the first wanted line, so that each line is
        /// still seen to start one (0 when the first is the file's first line). The ~300 bytes
        /// before it (the header and the first few `se.` lines) are never read again.
        public var readOffset: Int {
            var first = involuntary
            if migrations >= 0 { first = min(first, migrations) }
            if waitSum >= 0 { first = min(first, waitSum) }
            if voluntary >= 0 { first = min(first, voluntary) }
            return max(first - 1, 0)
        }
    }

    /// /proc/.../sched (CONFIG_SCHED_DEBUG): `se.nr_migrations`, `nr_voluntary_switches`,
    /// `nr_involuntary_switches`, as `key : value` lines; with CONFIG_SCHEDSTATS (and
    /// kernel.sched_schedstats=1) also `wait_sum`, in ms with six decimals. Returns where the lines
    /// were (nil when `nr_involuntary_switches` was not found): given back as `known`, the lines are
    /// read where they were if their keys are still there, else the file is scanned again. `bytes`
    /// start at the file's offset `origin`: a part read from the middle (`SchedLayout.readOffset`)
    /// can only be checked against `known`, and gives nil if a key moved (read the whole file then).
    @discardableResult
    public static func sched(_ bytes: ArraySlice<UInt8>, into c: inout ThreadCounters, known: SchedLayout? = nil,
                             origin: Int = 0) -> SchedLayout? {
        if let known, let found = schedAt(known, bytes, origin: origin, into: &c) { return found }
        guard origin == 0 else { return nil }
        // ~60 lines of which four are wanted, the last two thirds in: a line is looked at only when
        // its first byte could start one of them, and the scan stops after the last.
        var layout = SchedLayout()
        var complete = false
        forEachLine(bytes) { base, start, end in
            guard start < end else { return true }
            switch base[start] {
            case 115:  // s
                if line(base, start, end, hasKey: "se.nr_migrations") {
                    c.migrations = number(base, from: start, to: end)?.0
                    layout.migrations = start
                } else if line(base, start, end, hasKey: "se.statistics.wait_sum"), let (ms, micro) = number(base, from: start, to: end) {
                    // The name before 5.13.
                    c.waitSumNs = ms &* 1_000_000 &+ micro
                    layout.waitSum = start
                    layout.waitSumOld = true
                }
            case 119:  // w: printed only while schedstats are on, in ms with six decimals
                if line(base, start, end, hasKey: "wait_sum"), let (ms, micro) = number(base, from: start, to: end) {
                    c.waitSumNs = ms &* 1_000_000 &+ micro
                    layout.waitSum = start
                }
            case 110:  // n
                if line(base, start, end, hasKey: "nr_voluntary_switches") {
                    c.voluntarySwitches = number(base, from: start, to: end)?.0 ?? 0
                    layout.voluntary = start
                } else if line(base, start, end, hasKey: "nr_involuntary_switches") {
                    c.involuntarySwitches = number(base, from: start, to: end)?.0 ?? 0
                    layout.involuntary = start
                    layout.end = end + 1
                    complete = true
                    return false  // the last of the four (kernel/sched/debug.c prints them in this order)
                }
            default:
                break
            }
            return true
        }
        return complete ? layout : nil
    }

    /// The figures read at the lines of `layout`; nil (and nothing written) if any key moved.
    private static func schedAt(_ layout: SchedLayout, _ bytes: ArraySlice<UInt8>, origin: Int, into c: inout ThreadCounters) -> SchedLayout? {
        bytes.withUnsafeBufferPointer { buffer -> SchedLayout? in
            guard let base = buffer.baseAddress, layout.involuntary >= 0 else { return nil }
            let count = buffer.count
            /// The value of the line at file offset `at` if it begins a line with `name`.
            func value(at: Int, _ name: StaticString) -> (UInt64, UInt64)? {
                let start = at - origin
                guard start >= 0, start < count, start > 0 ? base[start - 1] == 10 : origin == 0 else { return nil }
                let end = memchr(base + start, 10, count - start).map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? count
                guard line(base, start, end, hasKey: name) else { return nil }
                // The value ends the line, right-aligned after ~40 bytes of padding: found from the
                // end, not by walking the padding (which was most of this function's time).
                var digits = end
                while digits > start, base[digits - 1] &- 48 <= 9 || base[digits - 1] == 46 { digits -= 1 }
                return number(base, from: digits < end ? digits : start + name.utf8CodeUnitCount, to: end)
            }
            guard let involuntary = value(at: layout.involuntary, "nr_involuntary_switches"),
                  let voluntary = value(at: layout.voluntary, "nr_voluntary_switches") else { return nil }
            var migrations: UInt64?
            if layout.migrations >= 0 {
                guard let found = value(at: layout.migrations, "se.nr_migrations") else { return nil }
                migrations = found.0
            }
            var waitSumNs: UInt64?
            if layout.waitSum >= 0 {
                guard let (ms, micro) = layout.waitSumOld ? value(at: layout.waitSum, "se.statistics.wait_sum")
                    : value(at: layout.waitSum, "wait_sum") else { return nil }
                waitSumNs = ms &* 1_000_000 &+ micro
            }
            c.involuntarySwitches = involuntary.0
            c.voluntarySwitches = voluntary.0
            if let migrations { c.migrations = migrations }
            if let waitSumNs { c.waitSumNs = waitSumNs }
            return layout
        }
    }

    /// /proc/.../status, for kernels without /proc/.../sched: the context switch counts.
    public static func status(_ bytes: ArraySlice<UInt8>, into c: inout ThreadCounters) {
        keyValues(bytes) { key, value, _ in
            if key.is("voluntary_ctxt_switches") {
                c.voluntarySwitches = value
            } else if key.is("nonvoluntary_ctxt_switches") {
                c.involuntarySwitches = value
                return false
            }
            return true
        }
    }

    /// `Cpus_allowed_list:\t0-3,8` from /proc/.../status; empty when the list is not one a kernel writes.
    public static func allowedCPUs(status text: String) -> [Int] {
        for line in text.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
            return CPUList(String(line.dropFirst("Cpus_allowed_list:".count)))?.cpus ?? []
        }
        return []
    }

    /// Lines of `key value`, `key: value` or `key : value`: the key, the first number after it and
    /// its decimals as millionths (`12.5` -> 12, 500000; 0 without a decimal point). `body` returns
    /// false once it has what it wants.
    static func keyValues(_ bytes: ArraySlice<UInt8>, _ body: (LineKey, UInt64, UInt64) -> Bool) {
        forEachLine(bytes) { base, lineStart, lineEnd in
            var keyEnd = lineStart
            while keyEnd < lineEnd && base[keyEnd] != 32 && base[keyEnd] != 9 && base[keyEnd] != 58 { keyEnd += 1 }
            guard keyEnd > lineStart, let (value, micro) = number(base, from: keyEnd, to: lineEnd) else { return true }
            return body(LineKey(bytes: UnsafeBufferPointer(start: base + lineStart, count: keyEnd - lineStart)), value, micro)
        }
    }

    /// Each line of `bytes` as a range of one buffer (no copies); `body` returns false to stop.
    @inline(__always)
    static func forEachLine(_ bytes: ArraySlice<UInt8>, _ body: (UnsafePointer<UInt8>, Int, Int) -> Bool) {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let end = buffer.count
            var lineStart = 0
            while lineStart < end {
                let lineEnd = memchr(base + lineStart, 10, end - lineStart).map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? end
                if !body(base, lineStart, lineEnd) { return }
                lineStart = lineEnd + 1
            }
        }
    }

    /// The first number in base[from..<to] and its decimals as millionths; nil when there is none.
    @inline(__always)
    static func number(_ base: UnsafePointer<UInt8>, from: Int, to end: Int) -> (UInt64, UInt64)? {
        var i = from
        while i < end && base[i] &- 48 > 9 { i += 1 }
        guard i < end else { return nil }
        var value: UInt64 = 0
        while i < end, base[i] &- 48 <= 9 {
            value = value &* 10 &+ UInt64(base[i] &- 48)
            i += 1
        }
        var micro: UInt64 = 0
        if i < end, base[i] == 46 {
            i += 1
            var scale: UInt64 = 100_000
            while i < end, base[i] &- 48 <= 9 {
                micro += UInt64(base[i] &- 48) * scale
                scale /= 10
                i += 1
            }
        }
        return (value, micro)
    }

    /// The key of a `key value` line, compared with memcmp rather than through a String.
    struct LineKey {
        let bytes: UnsafeBufferPointer<UInt8>

        @inline(__always)
        func `is`(_ name: StaticString) -> Bool {
            bytes.count == name.utf8CodeUnitCount && memcmp(bytes.baseAddress!, name.utf8Start, bytes.count) == 0
        }
    }

    /// Whether the line at base[start..<end] starts with the key `name`, followed by a space, tab or colon.
    @inline(__always)
    static func line(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, hasKey name: StaticString) -> Bool {
        let n = name.utf8CodeUnitCount
        guard end - start > n, memcmp(base + start, name.utf8Start, n) == 0 else { return false }
        let after = base[start + n]
        return after == 32 || after == 9 || after == 58
    }

    /// cgroup v2 cpu.stat: usage_usec, user_usec, system_usec -> ns. Wrapping, as the kernel's own
    /// u64 nanoseconds do (a counter delta across a wrap reads as a reset); a number no kernel wrote
    /// gives a wrong figure, never a trap.
    public static func cgroupV2(_ bytes: ArraySlice<UInt8>) -> CgroupCounters {
        var c = CgroupCounters()
        keyValues(bytes) { key, value, _ in
            if key.is("usage_usec") { c.usageNs = value &* 1000 }
            else if key.is("user_usec") { c.userNs = value &* 1000 }
            else if key.is("system_usec") { c.systemNs = value &* 1000 }
            return true
        }
        return c
    }

    /// cgroup v1 cpuacct.stat: `user TICKS`, `system TICKS` (USER_HZ).
    public static func cpuacctStat(_ bytes: ArraySlice<UInt8>, ticksPerSecond: UInt64, into c: inout CgroupCounters) {
        let nsPerTick = 1_000_000_000 / max(ticksPerSecond, 1)
        keyValues(bytes) { key, value, _ in
            if key.is("user") { c.userNs = value &* nsPerTick }
            else if key.is("system") { c.systemNs = value &* nsPerTick }
            return true
        }
    }

    /// /proc/stat `cpu` and `cpuN` lines: ticks of user nice system idle iowait irq softirq steal guest guest_nice.
    /// Key nil is the aggregate line.
    public static func procStat(_ text: String) -> [Int?: [UInt64]] {
        procStat(Array(text.utf8)[...])
    }

    public static func procStat(_ bytes: ArraySlice<UInt8>) -> [Int?: [UInt64]] {
        var out: [Int?: [UInt64]] = [:]
        forEachLine(bytes) { base, start, end in
            // The cpu lines come first; the first other line ends them.
            guard end - start > 3, base[start] == 99, base[start + 1] == 112, base[start + 2] == 117 else { return out.isEmpty }
            var i = start + 3
            var id: Int?
            while i < end, base[i] &- 48 <= 9 {
                id = (id ?? 0) * 10 + Int(base[i] &- 48)
                i += 1
                // No kernel numbers a CPU past CPUList.maxCPU: a longer number is not a CPU line.
                if id! > CPUList.maxCPU { return true }
            }
            var values: [UInt64] = []
            values.reserveCapacity(10)
            while let (value, _) = number(base, from: i, to: end) {
                values.append(value)
                while i < end && base[i] == 32 { i += 1 }
                while i < end && base[i] != 32 { i += 1 }
            }
            out[id] = values
            return true
        }
        return out
    }
}

/// A cgroup's counters at one instant, in ns.
public struct CgroupCounters: Sendable, Equatable {
    public var usageNs: UInt64 = 0
    public var userNs: UInt64 = 0
    public var systemNs: UInt64 = 0

    public init(usageNs: UInt64 = 0, userNs: UInt64 = 0, systemNs: UInt64 = 0) {
        self.usageNs = usageNs
        self.userNs = userNs
        self.systemNs = systemNs
    }
}

/// /proc/interrupts at one instant: per IRQ, its per-CPU counts and device name.
public struct InterruptCounts: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        public var irq: String
        public var device: String
        public var perCPU: [UInt64]

        public init(irq: String, device: String, perCPU: [UInt64]) {
            self.irq = irq
            self.device = device
            self.perCPU = perCPU
        }

        /// A numbered IRQ belongs to a device; `LOC`, `RES`, `CAL` ... are per-CPU architecture
        /// interrupts that land on every CPU by design.
        public var isDevice: Bool { irq.first?.isNumber ?? false }
    }

    public var cpus: Int
    public var lines: [Line]

    public init(cpus: Int = 0, lines: [Line] = []) {
        self.cpus = cpus
        self.lines = lines
    }

    /// The header names the CPU columns (`CPU0 CPU1`); each line is `IRQ:` then one count per CPU,
    /// then the chip, hwirq and device, or for `LOC:`-style lines a description. `ERR:` and `MIS:`
    /// have a single count and are skipped.
    public static func parse(_ text: String) -> InterruptCounts {
        parse(Array(text.utf8)[...])
    }

    /// On bytes, one pass: each count is parsed where the scan meets it, and only the IRQ and the
    /// device text become Strings. /proc/interrupts of a 64-CPU host is ~40 KB, nine tenths of it
    /// column padding, and read every interval.
    public static func parse(_ bytes: ArraySlice<UInt8>) -> InterruptCounts {
        var cpus = -1
        var out: [Line] = []
        var tokens: [Range<Int>] = []
        ProcParse.forEachLine(bytes) { base, start, end in
            @inline(__always) func skipBlanks(_ i: inout Int) {
                while i < end && (base[i] == 32 || base[i] == 9) { i += 1 }
            }
            @inline(__always) func tokenEnd(_ from: Int) -> Int {
                var j = from
                while j < end && base[j] != 32 && base[j] != 9 { j += 1 }
                return j
            }
            /// The tokens from `i` to the end of the line, into `tokens`.
            func tokenize(from i: Int) {
                tokens.removeAll(keepingCapacity: true)
                var i = i
                while true {
                    skipBlanks(&i)
                    guard i < end else { return }
                    let e = tokenEnd(i)
                    tokens.append(i..<e)
                    i = e
                }
            }
            var i = start
            if cpus < 0 {
                tokenize(from: i)
                cpus = tokens.filter { $0.count > 3 && base[$0.lowerBound] == 67 && base[$0.lowerBound + 1] == 80 && base[$0.lowerBound + 2] == 85 }.count
                return cpus > 0  // a header without CPU columns: no line below can be read
            }
            skipBlanks(&i)
            let irqStart = i
            let irqEnd = tokenEnd(i)
            guard irqEnd - irqStart > 1, base[irqEnd - 1] == 58 else { return true }
            i = irqEnd
            var counts: [UInt64] = []
            counts.reserveCapacity(cpus)
            for _ in 0..<cpus {
                skipBlanks(&i)
                guard i < end else { return true }  // fewer counts than CPUs: not a per-CPU line
                let e = tokenEnd(i)
                var value: UInt64 = 0
                for j in i..<e {
                    let digit = base[j] &- 48
                    guard digit <= 9 else { return true }  // ERR:, MIS: have one count, then text
                    value = value &* 10 &+ UInt64(digit)
                }
                counts.append(value)
                i = e
            }
            tokenize(from: i)
            func text(_ range: Range<Int>) -> String {
                String(decoding: UnsafeBufferPointer(start: base + range.lowerBound, count: range.count), as: UTF8.self)
            }
            let irq = text(irqStart..<(irqEnd - 1))
            // Device lines end with the device name after chip and hwirq/trigger ("IO-APIC 5-edge ACPI:Ged").
            let device = (irq.first?.isNumber == true && tokens.count >= 3 ? tokens[2...] : tokens[...]).map(text).joined(separator: " ")
            out.append(Line(irq: irq, device: device, perCPU: counts))
            return true
        }
        return InterruptCounts(cpus: max(cpus, 0), lines: out)
    }
}
