import ArgumentParser
import HVTaxHost
import HVTaxModel
import HVTaxRender
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `hvtax top`: the live view for people. On a terminal, a full-screen view redrawn each interval;
/// piped, one plain line per VM and interval, so `hvtax top | grep web01` works like `top -b`.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Full-screen live view of every VM's hypervisor tax: steal, on-CPU, VMM overhead, per vCPU.",
        discussion: """
            Keys: q quit, s next sort key, / filter by VM name (Enter applies, Esc clears), up/down or j/k select, \
            Enter shows the selected VM's vCPUs, Esc or Backspace goes back, + and - change the interval, h help. \
            When stdout is not a terminal, prints plain lines instead (one per VM per interval).
            """)

    enum SortKey: String, ExpressibleByArgument, CaseIterable {
        case steal, cpu, overhead, name, pid

        var next: SortKey { Self.allCases[(Self.allCases.firstIndex(of: self)! + 1) % Self.allCases.count] }
    }

    @OptionGroup var thresholdOptions: ThresholdOptions

    @Option(help: "Refresh interval: 1s, 500ms, 2s.")
    var interval: DurationArgument = DurationArgument(argument: "1s")!

    @Option(help: "Sort VMs by: steal, cpu, overhead, name, pid.")
    var sort: SortKey = .steal

    @Option(name: .customLong("vm"), help: ArgumentHelp("Show only VMs whose name contains this.", valueName: "text"))
    var filter: String = ""

    @Option(help: "Stop after this many intervals (default: until q, SIGINT or SIGTERM).")
    var count: Int?

    @Option(help: "Read /proc and /sys under this directory instead of /.")
    var root: String = "/"

    @OptionGroup var exitRateOptions: ExitRateOptions

    func run() throws {
        let loop = try LiveLoop(root: root, thresholds: thresholdOptions.thresholds(), filter: [], exitRates: exitRateOptions.exitRates)
        let state = TopState(sort: sort, filter: filter, intervalNs: interval.nanoseconds)
        TopSignals.install()
        if isatty(STDOUT_FILENO) == 1 && isatty(STDIN_FILENO) == 1 {
            var screen = FullScreenTop(loop: loop, state: state, count: count)
            try screen.run()
        } else {
            try plainLines(loop: loop, state: state)
        }
    }

    /// Batch mode: a header once, then one line per VM per interval.
    private func plainLines(loop: LiveLoop, state: TopState) throws {
        print("time_unix_s vm pid kind vcpus on_cpu_pct steal_pct vmm_overhead_pct cgroup_pct")
        var done = 0
        while count.map({ done < $0 }) ?? true {
            guard let snapshot = try? loop.next(after: state.intervalNs, wait: TopSignals.sleep) else { break }
            for vm in state.visible(snapshot.vms) {
                let cgroup = vm.cgroup.map { Formatting.fixed(Double($0.usageNs) / Double(snapshot.intervalNs) * 100, 1) } ?? "-"
                print([String(snapshot.endUnixNs / 1_000_000_000), vm.name, String(vm.pid), vm.kind.rawValue, String(vm.vcpus.count),
                       Formatting.fixed(vm.vcpuOnCPU * 100, 1), vm.steal.ratio.map { Formatting.fixed($0 * 100, 1) } ?? "-",
                       vm.vmmOverhead.ratio.map { Formatting.fixed($0 * 100, 1) } ?? "-", cgroup].joined(separator: " "))
            }
            fflush(nil)  // all streams: naming `stdout` is shared mutable state to Swift 6
            done += 1
            if TopSignals.stop.load(ordering: .relaxed) { break }
        }
    }
}

/// What the user has chosen in top: sort, filter, selection, drill-down.
struct TopState {
    var sort: TopCommand.SortKey
    var filter: String
    var intervalNs: UInt64
    var selected = 0
    /// The pid of the VM whose vCPUs are shown; nil on the VM list.
    var drilledPid: Int32?
    var editingFilter: String?
    var showHelp = false

    func visible(_ vms: [VMFigures]) -> [VMFigures] {
        let shown = filter.isEmpty ? vms : vms.filter { $0.name.localizedLowercase.contains(filter.localizedLowercase) }
        return shown.sorted { a, b in
            switch sort {
            case .steal: (a.steal.ratio ?? -1, b.pid) > (b.steal.ratio ?? -1, a.pid)
            case .cpu: (a.vcpuOnCPU, b.pid) > (b.vcpuOnCPU, a.pid)
            case .overhead: (a.vmmOverhead.ratio ?? -1, b.pid) > (b.vmmOverhead.ratio ?? -1, a.pid)
            case .name: (a.name, a.pid) < (b.name, b.pid)
            case .pid: a.pid < b.pid
            }
        }
    }
}

/// Signals top reacts to, set by handlers and read by the loop. Handlers only store to atomics
/// (async-signal-safe); the handlers are installed without SA_RESTART so that a blocked poll or
/// nanosleep returns at once with EINTR and the loop sees the flag.
enum TopSignals {
    static let stop = Atomic<Bool>(false)
    static let resized = Atomic<Bool>(false)

    static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in TopSignals.stop.store(true, ordering: .relaxed) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGHUP, &action, nil)
        var winch = sigaction()
        winch.__sigaction_handler.sa_handler = { _ in TopSignals.resized.store(true, ordering: .relaxed) }
        sigemptyset(&winch.sa_mask)
        winch.sa_flags = 0
        sigaction(SIGWINCH, &winch, nil)
    }

    /// Sleeps unless a stop signal came; false when it did.
    static func sleep(_ ns: UInt64) -> Bool {
        var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 {
            if stop.load(ordering: .relaxed) { return false }
            guard errno == EINTR else { break }
            request = remaining
        }
        return !stop.load(ordering: .relaxed)
    }
}

/// The terminal as top leaves it: saved at start, restored on every way out (normal return, a
/// thrown error, SIGINT/SIGTERM through the loop's flag, and process exit through atexit).
enum TerminalGuard {
    nonisolated(unsafe) static var saved: termios?

    static func enter() {
        var current = termios()
        guard tcgetattr(STDIN_FILENO, &current) == 0 else { return }
        saved = current
        var raw = current
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        // VMIN 0, VTIME 0: reads return what is there; poll decides when to read.
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        atexit { TerminalGuard.leave() }
        write("\u{1b}[?1049h\u{1b}[?25l\u{1b}[H\u{1b}[2J")
    }

    static func leave() {
        guard var original = saved else { return }
        saved = nil
        write("\u{1b}[0m\u{1b}[?25h\u{1b}[?1049l")
        tcsetattr(STDIN_FILENO, TCSANOW, &original)
    }

    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return
            }
            offset += n
        }
    }

    static func size() -> (rows: Int, columns: Int) {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 {
            return (Int(size.ws_row), Int(size.ws_col))
        }
        return (24, 80)
    }
}

/// The full-screen loop: waits in poll for a key, a signal or the next interval's deadline.
struct FullScreenTop {
    let loop: LiveLoop
    var state: TopState
    let count: Int?

    init(loop: LiveLoop, state: TopState, count: Int?) {
        self.loop = loop
        self.state = state
        self.count = count
    }

    mutating func run() throws {
        TerminalGuard.enter()
        defer { TerminalGuard.leave() }
        var snapshot: HostSnapshot?
        var intervals = 0
        // The first interval is shown as soon as it ends; meanwhile a "sampling" screen.
        draw(nil)
        _ = loop.analyzer.add(try loop.sampler.sample(), vms: loop.sampler.vms, affinity: loop.sampler.affinity)
        var deadline = loop.monotonicNs() + state.intervalNs
        while !TopSignals.stop.load(ordering: .relaxed) {
            let now = loop.monotonicNs()
            if now >= deadline {
                if let next = loop.analyzer.add(try loop.sampler.sample(), vms: loop.sampler.vms, affinity: loop.sampler.affinity) {
                    snapshot = next
                    intervals += 1
                }
                deadline = loop.monotonicNs() + state.intervalNs
                draw(snapshot)
                if let count, intervals >= count { break }
                continue
            }
            var fds = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            let timeoutMs = Int32(min((deadline - now) / 1_000_000 + 1, 1000))
            let ready = poll(&fds, 1, timeoutMs)
            if TopSignals.resized.exchange(false, ordering: .relaxed) { draw(snapshot) }
            if ready > 0 {
                var bytes = [UInt8](repeating: 0, count: 64)
                let n = read(STDIN_FILENO, &bytes, bytes.count)
                if n > 0, handle(Array(bytes[0..<n]), snapshot: snapshot) == .quit { break }
                draw(snapshot)
            }
        }
    }

    enum KeyOutcome { case handled, quit }

    /// One read's worth of keys, taken one at a time: a paste or fast typing brings several in one
    /// read, and after `/` the rest is the filter's text, not commands (`/web-qs` must not quit).
    mutating func handle(_ bytes: [UInt8], snapshot: HostSnapshot?) -> KeyOutcome {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if let text = state.editingFilter {
                editFilter(text, byte)
                continue
            }
            // Arrow keys arrive as ESC [ A (up), B (down), D (left).
            if byte == 27, index + 1 < bytes.count, bytes[index] == 91 {
                moveSelection(arrow: bytes[index + 1], snapshot: snapshot)
                index += 2
                continue
            }
            if command(byte, snapshot: snapshot) == .quit { return .quit }
        }
        return .handled
    }

    private mutating func editFilter(_ text: String, _ byte: UInt8) {
        var text = text
        switch byte {
        case 13, 10:
            state.filter = text
            state.editingFilter = nil
            state.selected = 0
            return
        case 27:
            state.filter = ""
            state.editingFilter = nil
            return
        case 127, 8: if !text.isEmpty { text.removeLast() }
        case 32...126: text.append(Character(Unicode.Scalar(byte)))
        default: break
        }
        state.editingFilter = text
    }

    private mutating func moveSelection(arrow: UInt8, snapshot: HostSnapshot?) {
        let shown = snapshot.map { state.visible($0.vms) } ?? []
        switch arrow {
        case UInt8(ascii: "A"): state.selected = max(0, state.selected - 1)
        case UInt8(ascii: "B"): state.selected = min(max(shown.count - 1, 0), state.selected + 1)
        case UInt8(ascii: "D"): state.drilledPid = nil
        default: break
        }
    }

    private mutating func command(_ byte: UInt8, snapshot: HostSnapshot?) -> KeyOutcome {
        // The VMs as shown now: a filter applied earlier in the same read has changed them.
        let shown = snapshot.map { state.visible($0.vms) } ?? []
        switch byte {
        case UInt8(ascii: "q"): return .quit
        case UInt8(ascii: "s"): state.sort = state.sort.next
        case UInt8(ascii: "/"): state.editingFilter = ""
        case UInt8(ascii: "k"): state.selected = max(0, state.selected - 1)
        case UInt8(ascii: "j"): state.selected = min(max(shown.count - 1, 0), state.selected + 1)
        case 13, 10: if state.selected < shown.count { state.drilledPid = shown[state.selected].pid }
        case 27, 127, 8: state.drilledPid = nil
        case UInt8(ascii: "+"): state.intervalNs = min(state.intervalNs * 2, 60_000_000_000)
        case UInt8(ascii: "-"): state.intervalNs = max(state.intervalNs / 2, 250_000_000)
        case UInt8(ascii: "h"), UInt8(ascii: "?"): state.showHelp.toggle()
        default: break
        }
        return .handled
    }

    func draw(_ snapshot: HostSnapshot?) {
        let (rows, columns) = TerminalGuard.size()
        let style = TerminalStyle(colour: getenv("NO_COLOR") == nil)
        let frame = TopScreen(state: state, rows: rows, columns: columns, style: style).lines(snapshot)
        // No newline after the last row: on the bottom line it would scroll the frame up by one.
        let out = "\u{1b}[H" + frame.map { $0 + "\u{1b}[K" }.joined(separator: "\r\n") + "\u{1b}[J"
        TerminalGuard.write(out)
    }
}

/// One frame of the full-screen view as lines no wider than the terminal. Separate from the loop
/// so a frame's content can be checked without a terminal.
struct TopScreen {
    let state: TopState
    let rows: Int
    let columns: Int
    let style: TerminalStyle

    func lines(_ snapshot: HostSnapshot?) -> [String] {
        var out: [String] = []
        func add(_ text: String, _ tone: TerminalStyle.Tone = .plain) { out.append(style.apply(tone, cut(text))) }
        guard let s = snapshot else {
            add("hvtax top: sampling the first interval (\(Formatting.duration(state.intervalNs, unit: .ns)))...", .heading)
            return withHelp(out)
        }
        let shown = state.visible(s.vms)
        let filter = state.editingFilter.map { "filter: \($0)_" } ?? (state.filter.isEmpty ? "" : "filter: \(state.filter)")
        add("hvtax top  \(Formatting.count(s.vms.count, "VM")), \(Formatting.count(s.vms.reduce(0) { $0 + $1.vcpus.count }, "vCPU"))  interval "
            + "\(Formatting.duration(s.intervalNs, unit: .ns))  sort: \(state.sort.rawValue)  \(filter)", .heading)
        if let all = s.hostCPUs.first(where: { $0.cpu == nil }) {
            add("host  user \(Formatting.percent(all.user))  system \(Formatting.percent(all.system))  steal \(Formatting.percent(all.steal))  "
                + "guest \(Formatting.percent(all.guest))  idle \(Formatting.percent(all.idle))  irq \(Formatting.compact(s.interrupts.totalPerSecond))/s  "
                + "sampler \(Formatting.percent(Double(s.sampler.cpuNs) / Double(max(s.intervalNs, 1)), digits: 3)) of a core")
        }
        add("exits " + s.exitRates.detail, s.exitRates.kind == .none ? .dim : .plain)
        add("")
        if let pid = state.drilledPid, let vm = s.vms.first(where: { $0.pid == pid }) {
            vcpuLines(vm, s).forEach { add($0.0, $0.1) }
        } else {
            add(pad("", 2) + pad("PID", 8) + pad("VM", 20) + pad("KIND", 17) + rpad("vCPUs", 6) + rpad("CPU%", 8) + rpad("STEAL%", 8)
                + rpad("VMM%", 7) + rpad("CGROUP%", 9) + "  CPUS", .title)
            for (index, vm) in shown.enumerated() {
                let cgroup = vm.cgroup.map { pct(Double($0.usageNs) / Double(s.intervalNs)) } ?? "-"
                let line = pad(index == state.selected ? ">" : "", 2) + pad(String(vm.pid), 8) + pad(vm.name, 20) + pad(vm.kind.rawValue, 17)
                    + rpad(String(vm.vcpus.count), 6) + rpad(pct(vm.vcpuOnCPU), 8) + rpad(vm.steal.ratio.map(pct) ?? "-", 8)
                    + rpad(vm.vmmOverhead.ratio.map(pct) ?? "-", 7) + rpad(cgroup, 9) + "  " + SnapshotTextRenderer.cpuList(vm.cpus)
                add(line, tone(max(vm.steal.level, vm.worstVCPUSteal, vm.vmmOverhead.level)))
            }
            if shown.isEmpty { add(s.vms.isEmpty ? "  no VMs found" : "  no VM matches the filter", .dim) }
        }
        add("")
        var notes: [(String, TerminalStyle.Tone)] = []
        notes += s.interrupts.storms.map { ("storm: " + $0.detail, .critical) }
        notes += s.noisyNeighbours.map { ("noisy neighbour: " + $0.detail, .critical) }
        notes += s.findings.map { ("finding: " + $0.detail, .warning) }
        if let throttling = s.throttling, throttling.state == .throttled { notes.insert(("throttled: " + throttling.detail, .critical), at: 0) }
        notes += (s.advice?.findings ?? []).map { finding in
            ("advice: \(finding.scope): \(finding.title) (\(AdviceTextRenderer.threshold(finding.threshold)))", tone(finding.level))
        }
        let room = max(0, rows - out.count - helpLines.count - 1)
        for note in notes.prefix(room) { add(note.0, note.1) }
        return withHelp(out)
    }

    var helpLines: [String] {
        state.showHelp
            ? ["q quit   s sort (steal, cpu, overhead, name, pid)   / filter by VM name, Enter applies, Esc clears",
               "up/down or j/k select   Enter: the VM's vCPUs   Esc/Backspace/left: back   + / - interval x2 / /2   h hide help",
               "colours: steal and VMM overhead against the thresholds (warning yellow, critical red)"]
            : ["q quit  s sort  / filter  ↑↓ select  ⏎ vCPUs  ⌫ back  +/- interval  h help"]
    }

    /// The body cut to what fits above the help, which stays on the bottom rows however small the
    /// terminal (a drill-down with many exit reasons is taller than 16 rows); a cut says how much
    /// went.
    func withHelp(_ body: [String]) -> [String] {
        var out = body
        let bodyRows = max(0, rows - helpLines.count)
        while out.count > bodyRows, out.last == "" { out.removeLast() }
        if out.count > bodyRows && bodyRows > 0 {
            let hidden = out.count - bodyRows + 1
            out.removeLast(hidden)
            out.append(style.apply(.dim, cut("… \(hidden) more lines: a taller terminal shows them")))
        }
        while out.count < bodyRows { out.append("") }
        out += helpLines.map { style.apply(.dim, cut($0)) }
        return Array(out.suffix(rows))
    }

    func cut(_ text: String) -> String { text.count > columns ? String(text.prefix(columns)) : text }

    func vcpuLines(_ vm: VMFigures, _ s: HostSnapshot) -> [(String, TerminalStyle.Tone)] {
        var out: [(String, TerminalStyle.Tone)] = []
        out.append(("VM \(vm.name)  pid \(vm.pid)  \(vm.kind.rawValue)" + (vm.uuid.map { "  uuid \($0)" } ?? "")
            + (vm.cgroup.map { "  cgroup \($0.version.rawValue) \($0.path)" } ?? "  no own cgroup"), .heading))
        out.append((pad("vCPU", 6) + rpad("TID", 8) + rpad("CPU%", 8) + rpad("STEAL%", 8) + rpad("USER%", 7) + rpad("SYS%", 7)
            + rpad("GUEST%", 7) + rpad("INVOL/s", 9) + rpad("MIGR", 6) + rpad("LAST", 6), .title))
        let seconds = Double(s.intervalNs) / 1e9
        func share(_ ns: UInt64) -> String { pct(Double(ns) / Double(max(s.intervalNs, 1))) }
        for v in vm.vcpus {
            out.append((pad(String(v.vcpu), 6) + rpad(String(v.tid), 8) + rpad(pct(v.onCPU), 8) + rpad(v.steal.ratio.map(pct) ?? "-", 8)
                + rpad(share(v.userNs), 7) + rpad(share(v.systemNs), 7) + rpad(share(v.guestNs), 7)
                + rpad(Formatting.fixed(Double(v.involuntarySwitches) / seconds, 0), 9) + rpad(v.migrations.map { String($0) } ?? "n/a", 6)
                + rpad(String(v.lastCPU), 6), tone(v.steal.level)))
        }
        for (label, group) in [("emulator", vm.emulator), ("I/O", vm.io), ("vhost", vm.vhost)] where group.threads > 0 {
            out.append((pad("\(label) threads ×\(group.threads)", 22) + rpad(share(group.onCPUNs), 8) + rpad(share(group.runDelayNs), 8), .dim))
        }
        if vm.exitReasons.isEmpty {
            out.append(("exit reasons: " + (vm.exitsPerSecond.map { Formatting.compact($0) + "/s in all (debugfs has no per-reason split)" }
                ?? s.exitRates.detail), .dim))
            return out
        }
        // Drill-down to exit reasons: every counted tracepoint that fired, its per-reason split under it.
        out.append(("", .plain))
        out.append((pad("EXIT REASON", 34) + rpad("PER s", 10) + rpad("COUNT", 10), .title))
        for reason in vm.exitReasons where !reason.reason.contains(":") && reason.count > 0 {
            out.append((pad(reason.reason, 34) + rpad(Formatting.compact(reason.perSecond), 10) + rpad(String(reason.count), 10), .plain))
            for split in vm.exitReasons where split.reason.hasPrefix(reason.reason + ":") && split.count > 0 {
                out.append((pad("  " + split.reason.dropFirst(reason.reason.count + 1), 34) + rpad(Formatting.compact(split.perSecond), 10)
                    + rpad(String(split.count), 10), .dim))
            }
        }
        if !vm.exitReasons.contains(where: { $0.count > 0 }) { out.append(("  no counted exit fired in this interval", .dim)) }
        return out
    }

    func tone(_ level: Level) -> TerminalStyle.Tone {
        switch level {
        case .critical: .critical
        case .warning: .warning
        case .ok, .unavailable: .plain
        }
    }

    func pct(_ ratio: Double) -> String { Formatting.fixed(ratio * 100, 1) }
    func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.prefix(width - 1)) + " " : text + String(repeating: " ", count: width - text.count)
    }
    func rpad(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }
}
