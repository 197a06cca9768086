import Foundation
import Testing

/// `hvtax top`, the built executable, in a real terminal: a tmux server of the test's own, real
/// QEMUs with KVM for it to find, keys sent with `tmux send-keys` and the screen read back with
/// `tmux capture-pane`. What is on the screen is checked against what /proc says (pids, vCPU thread
/// ids) and against the thresholds given on the command line (colours). Skipped, with the reason
/// printed, where tmux, qemu or /dev/kvm is missing.
@Suite("hvtax top in a real terminal (tmux) on real QEMUs", .serialized)
struct TopTerminalTests {
    /// The built `hvtax` next to the test bundle (this target depends on it, so it is built).
    static var hvtax: String {
        var directory = Bundle.main.bundleURL
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("hvtax").path) {
            directory.deleteLastPathComponent()
            if directory.path == "/" { break }
        }
        return directory.appendingPathComponent("hvtax").path
    }

    func requireTmuxAndQEMU() throws {
        if let reason = TmuxSession.unavailableReason ?? RunningQEMU.unavailableReason { try skipLiveTest(reason) }
    }

    /// One real QEMU under a unique name, its vCPU threads up (skips without tmux, QEMU or /dev/kvm).
    func startVM() throws -> (String, RunningQEMU) {
        try requireTmuxAndQEMU()
        let name = Self.uniqueName()
        let vm = try RunningQEMU(name: name)
        _ = try vm.vcpuThreads()
        return (name, vm)
    }

    /// A VM name no other suite uses, short enough for top's 19-column VM column. Its `s` is also
    /// top's sort key: typed after `/` it must go into the filter.
    static func uniqueName() -> String { "tops-" + String(UInt32.random(in: 0...UInt32.max), radix: 36) }

    @Test("VM table with name, pid and help line; every sort key orders the rows; j and Enter drill down; / filters; vCPU rows carry QEMU's thread ids; exit reasons; colours follow the thresholds; resize redraws; q exits 0 and restores the terminal")
    func fullScreen() throws {
        try requireTmuxAndQEMU()
        let prefix = Self.uniqueName()
        // b starts first so that name order and pid order differ.
        let vmB = try RunningQEMU(name: prefix + "-b")
        let vmA = try RunningQEMU(name: prefix + "-a")
        let threadsB = try vmB.vcpuThreads()
        let threadsA = try vmA.vcpuThreads()
        defer { withExtendedLifetime((vmA, vmB)) {} }
        let top = try TopRun(arguments: ["top", "--interval", "500ms", "--vm", prefix])

        // The first interval: both VMs, with their pids, the help line on the bottom row.
        var frame = try top.frame(for: "both VMs in the table") { frame in
            let names = frame.vmRows.map(\.name)
            return names.contains(prefix + "-a") && names.contains(prefix + "-b") ? frame : nil
        }
        #expect(frame.rows.count == 30)
        #expect(frame.header.hasPrefix("hvtax top  ") && frame.header.contains("sort: steal") && frame.header.contains("filter: \(prefix)"))
        #expect(frame.rows.last == TopFrame.helpLine, "help line on the bottom row: \(frame.rows.last ?? "")")
        #expect(Set(frame.vmRows.map(\.pid)) == [vmA.pid, vmB.pid])
        for row in frame.vmRows {
            let vm = row.pid == vmA.pid ? prefix + "-a" : prefix + "-b"
            #expect(row.name == vm && row.kind == "qemu" && row.vcpus == 2, "\(row)")
        }
        #expect(frame.vmRows.first?.selected == true)
        try top.expectRawMode()

        // Each key press moves to the next sort key; each frame is ordered by its key.
        frame = try top.frame(for: "a frame sorted by steal") { $0.sortKey == "steal" ? $0 : nil }
        expectOrdered(frame.vmRows.map { $0.steal ?? -1 }, descending: true, "steal")
        for key in ["cpu", "overhead", "name", "pid"] {
            try top.tmux.press("s")
            frame = try top.frame(for: "sort: \(key)") { $0.sortKey == key && $0.vmRows.count == 2 ? $0 : nil }
            switch key {
            case "cpu": expectOrdered(frame.vmRows.map(\.cpu), descending: true, key)
            case "overhead": expectOrdered(frame.vmRows.map { $0.vmm ?? -1 }, descending: true, key)
            case "name": #expect(frame.vmRows.map(\.name) == [prefix + "-a", prefix + "-b"])
            default: #expect(frame.vmRows.map(\.pid) == [vmA.pid, vmB.pid].sorted())
            }
        }

        // j selects the second row; Enter shows that VM's vCPUs; Backspace goes back.
        let second = frame.vmRows[1]
        try top.tmux.press("j")
        _ = try top.frame(for: "the second row selected") { $0.vmRows.count == 2 && $0.vmRows[1].selected ? $0 : nil }
        try top.tmux.press("Enter")
        frame = try top.frame(for: "the vCPUs of pid \(second.pid)") { frame in
            frame.rows.contains { $0.hasPrefix("VM \(second.name)  pid \(second.pid)  qemu") } && frame.vcpuRows.count == 2 ? frame : nil
        }
        let secondThreads = second.pid == vmA.pid ? threadsA : threadsB
        #expect(Dictionary(uniqueKeysWithValues: frame.vcpuRows.map { ($0.vcpu, $0.tid) }) == secondThreads)
        try top.tmux.press("BSpace")
        _ = try top.frame(for: "the VM table again") { $0.vmRows.count == 2 ? $0 : nil }

        // / filters by name: only a remains; Enter drills down into it. Typed in one go, as a paste.
        try top.tmux.type("/" + prefix + "-a")
        _ = try top.frame(for: "the filter being typed") { $0.header.contains("filter: \(prefix)-a_") ? $0 : nil }
        try top.tmux.press("Enter")
        frame = try top.frame(for: "only VM a") { $0.header.hasSuffix("filter: \(prefix)-a") && $0.vmRows.count == 1 ? $0 : nil }
        #expect(frame.vmRows.map(\.pid) == [vmA.pid])
        try top.tmux.press("Enter")
        frame = try top.frame(for: "the vCPUs of VM a", escapes: true) { frame in
            frame.rows.contains { $0.hasPrefix("VM \(prefix)-a  pid \(vmA.pid)  qemu") } && frame.vcpuRows.count == 2 ? frame : nil
        }
        #expect(Dictionary(uniqueKeysWithValues: frame.vcpuRows.map { ($0.vcpu, $0.tid) }) == threadsA)
        // vCPU rows are coloured by their own steal against the default thresholds, 5% and 10%.
        for row in frame.vcpuRows {
            guard let steal = row.steal, abs(steal - 5) > 0.06, abs(steal - 10) > 0.06 else { continue }
            #expect(frame.foreground[row.index] == (steal >= 10 ? 31 : steal >= 5 ? 33 : nil), "vCPU \(row.vcpu) steal \(steal)%")
        }
        expectExitReasons(frame)

        // A smaller terminal: redrawn at its size, the help line still on the bottom row.
        try top.tmux.resize(columns: 90, rows: 16)
        frame = try top.frame(for: "a 90x16 redraw") { frame in
            // Header on top and help at the bottom: tmux alone, shrinking the old frame, keeps one or the other.
            frame.rows.count == 16 && frame.header.hasPrefix("hvtax top  ") && frame.rows.last == TopFrame.helpLine
                && frame.rows.contains { $0.hasPrefix("VM \(prefix)-a") } ? frame : nil
        }
        #expect(frame.rows.allSatisfy { $0.count <= 90 }, "\(frame.rows.filter { $0.count > 90 })")
        // Shorter than the drill-down: the body gives way, says how much, and the help stays.
        try top.tmux.resize(columns: 90, rows: 10)
        frame = try top.frame(for: "a 90x10 redraw") { frame in
            frame.rows.count == 10 && frame.header.hasPrefix("hvtax top  ") && frame.rows.last == TopFrame.helpLine ? frame : nil
        }
        #expect(frame.rows[8].hasPrefix("… ") && frame.rows[8].hasSuffix(" more lines: a taller terminal shows them"), "\(frame.rows[8])")
        try top.tmux.resize(columns: 90, rows: 16)
        try top.tmux.press("h")
        frame = try top.frame(for: "the long help") { $0.rows.last?.hasPrefix("colours: steal and VMM overhead") == true ? $0 : nil }
        #expect(frame.rows.count == 16 && frame.rows[13].hasPrefix("q quit   s sort") && frame.rows[14].hasPrefix("up/down or j/k"))

        try top.tmux.press("q")
        try top.expectRestored(exitStatus: 0)
    }

    struct SignalCase: Sendable, CustomTestStringConvertible {
        let signal: Int32
        let name: String
        let thresholds: [String]
        /// The VM row's foreground for these thresholds: 31 red, 33 yellow, nil none.
        let colour: Int?
        var testDescription: String { name }
    }

    /// Each signal also runs with other thresholds, so that each colour is seen on a real row: steal
    /// is a ratio >= 0, VMM overhead one in 0...1.
    static let signalCases = [
        SignalCase(signal: SIGTERM, name: "SIGTERM", thresholds: ["--steal-warning", "0%", "--steal-critical", "0%"], colour: 31),
        SignalCase(signal: SIGINT, name: "SIGINT", thresholds: ["--steal-warning", "0%", "--steal-critical", "100%",
                                                                "--tax-warning", "100%", "--tax-critical", "100%"], colour: 33),
        SignalCase(signal: SIGHUP, name: "SIGHUP", thresholds: ["--steal-warning", "100%", "--steal-critical", "100%",
                                                                "--tax-warning", "100%", "--tax-critical", "100%"], colour: nil),
    ]

    @Test("a signal to hvtax top ends it with status 0 and the terminal restored; rows coloured by the thresholds given", arguments: signalCases)
    func signal(_ signalCase: SignalCase) throws {
        let (name, vm) = try startVM()
        defer { withExtendedLifetime(vm) {} }
        let top = try TopRun(arguments: ["top", "--interval", "500ms", "--vm", name] + signalCase.thresholds)
        let frame = try top.frame(for: "the VM's row", escapes: true) { $0.vmRows.first?.pid == vm.pid ? $0 : nil }
        let row = frame.vmRows[0]
        // A VM whose VMM threads ran and whose vCPUs did not has overhead 100%, critical at any threshold.
        if let steal = row.steal, let vmm = row.vmm, steal < 99.9, vmm < 99.9 {
            #expect(frame.foreground[row.index] == signalCase.colour, "\(row) with \(signalCase.thresholds)")
        } else {
            print("\(signalCase.name): row \(row) is at a threshold's edge: its colour is not checked")
        }
        try top.expectRawMode()
        let pid = try top.hvtaxPid()
        #expect(kill(pid, signalCase.signal) == 0)
        try top.expectRestored(exitStatus: 0)
    }

    @Test("not a terminal: `hvtax top --count 2 | cat` prints the header and one plain line per VM and interval")
    func plainLines() throws {
        let (name, vm) = try startVM()
        defer { withExtendedLifetime(vm) {} }
        // In a tmux pane, so that stdin is a terminal and only stdout is not, as in a shell.
        let directory = try TmuxSession.makeDirectory()
        let script = "{ \"$0\" top --count 2 --interval 300ms --vm \(name); echo $? > \(directory)/status; } | cat > \(directory)/out"
        let tmux = try TmuxSession(command: ["/bin/sh", "-c", script, Self.hvtax], columns: 150, rows: 30, directory: directory)
        try tmux.wait(until: "#{pane_dead}", is: "1", timeoutSeconds: 30)
        #expect(try String(contentsOfFile: directory + "/status", encoding: .utf8) == "0\n")
        #expect(try tmux.value("#{alternate_on}") == "0")
        let output = try String(contentsOfFile: directory + "/out", encoding: .utf8)
        #expect(!output.contains("\u{1b}"), "no escape sequences in plain lines")
        let lines = output.split(separator: "\n")
        #expect(lines.first == "time_unix_s vm pid kind vcpus on_cpu_pct steal_pct vmm_overhead_pct cgroup_pct")
        #expect(lines.count == 3, "\(output)")
        let now = Int(Date().timeIntervalSince1970)
        for line in lines.dropFirst() {
            let fields = line.split(separator: " ")
            #expect(fields.count == 9, "\(line)")
            guard fields.count == 9 else { continue }
            #expect(Int(fields[0]).map { abs($0 - now) < 30 } == true, "\(line)")
            #expect(Array(fields[1...4]) == [Substring(name), Substring(String(vm.pid)), "qemu", "2"])
            #expect(fields[5...8].allSatisfy { $0 == "-" || Double($0) != nil }, "\(line)")
        }
    }

    /// Started with the signals blocked, as a parent may hand them down (the Swift runtime clears
    /// the main thread's mask at start: checked here, on the process people run).
    @Test("plain lines: SIGTERM ends hvtax top with status 0 and a whole last line, even when started with SIGTERM, SIGINT and SIGHUP blocked")
    func plainLinesSignal() throws {
        let (name, vm) = try startVM()
        defer { withExtendedLifetime(vm) {} }
        let directory = try TmuxSession.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/out"
        // Plain lines (stdout a file): the same signal handling as the full screen, no terminal needed.
        let top = try SpawnedProcess(Self.hvtax, ["top", "--interval", "200ms", "--vm", name], outputPath: output,
                                     blocked: [SIGTERM, SIGINT, SIGHUP])
        defer { top.kill() }
        func text() -> String { String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self) }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !text().contains(" \(name) ") { usleep(50_000) }
        #expect(text().contains(" \(name) \(vm.pid) qemu 2 "), "\(text())")
        #expect(kill(top.pid, SIGTERM) == 0)
        let status = try top.wait(timeoutSeconds: 20)
        #expect(status == 0, "wait status \(status.map { String($0) } ?? "none: hvtax top still runs 20 s after SIGTERM")")
        #expect(text().hasSuffix("\n"), "the last line is whole")
    }

    func expectOrdered(_ values: [Double], descending: Bool, _ key: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let ordered = zip(values, values.dropFirst()).allSatisfy { descending ? $0 >= $1 : $0 <= $1 }
        #expect(ordered, "sort \(key): \(values)", sourceLocation: sourceLocation)
    }

    /// The exit reasons under the vCPUs say the same as the header's `exits` line: counted
    /// tracepoints (names of real kvm events) when it counts them, otherwise why there are none.
    func expectExitReasons(_ frame: TopFrame) {
        let exits = frame.rows[2]
        if exits.hasPrefix("exits kvm tracepoint counters") {
            let title = frame.rows.firstIndex { $0.hasPrefix("EXIT REASON") }
            #expect(title != nil, "no EXIT REASON table under counted tracepoints:\n\(frame.rows.joined(separator: "\n"))")
            guard let title else { return }
            let reasons = frame.rows[(title + 1)...].prefix { !$0.isEmpty && !$0.hasPrefix("q quit") }
            #expect(!reasons.isEmpty)
            let events = "/sys/kernel/tracing/events/kvm"
            for line in reasons where !line.hasPrefix(" ") {
                let reason = String(line.split(separator: " ")[0])
                if reason == "no" || reason == "…" { continue }
                #expect(reason.hasPrefix("kvm_"), "\(line)")
                if FileManager.default.fileExists(atPath: events) {
                    #expect(FileManager.default.fileExists(atPath: events + "/" + reason), "\(reason) is no kvm tracepoint")
                }
            }
        } else {
            let line = frame.rows.first { $0.hasPrefix("exit reasons: ") }
            #expect(line != nil, "no exit reasons line:\n\(frame.rows.joined(separator: "\n"))")
            if let line, !line.contains("/s in all") {
                // Both cut to the terminal's width: compare what both show.
                let why = line.dropFirst("exit reasons: ".count).prefix(60)
                #expect(exits.dropFirst("exits ".count).hasPrefix(why), "\(line) vs \(exits)")
            }
        }
    }
}

/// `hvtax top` running in a 150x30 tmux pane through a wrapper shell that, once top has exited,
/// records its exit status and the terminal settings (`stty -a`) as top left them, and then keeps
/// the pane alive (tmux hides the cursor of a dead pane) until the server is killed.
final class TopRun {
    let directory: String
    let tmux: TmuxSession

    init(arguments: [String]) throws {
        directory = try TmuxSession.makeDirectory()
        let wrapper = directory + "/run-top.sh"
        // NO_COLOR would turn the colours off: the test's environment is not the point here.
        try """
            unset NO_COLOR
            stty -a > "\(directory)/stty-before"
            "$@"
            status=$?
            stty -a > "\(directory)/stty-after"
            echo $status > "\(directory)/status"
            exec sleep 600
            """.write(toFile: wrapper, atomically: true, encoding: .utf8)
        tmux = try TmuxSession(command: ["/bin/sh", wrapper, TopTerminalTests.hvtax] + arguments, columns: 150, rows: 30, directory: directory)
    }

    func frame(for what: String, escapes: Bool = false, timeoutSeconds: Double = 30, _ accept: (TopFrame) -> TopFrame?) throws -> TopFrame {
        try tmux.wait(for: what, timeoutSeconds: timeoutSeconds, escapes: escapes) { accept(TopFrame(captured: $0)) }
    }

    /// The hvtax process: the wrapper shell's one child.
    func hvtaxPid() throws -> Int32 {
        let shell = try tmux.value("#{pane_pid}")
        let children = try String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)
        guard let pid = children.split(separator: " ").first.flatMap({ Int32($0) }) else {
            throw LiveTestFailure("the wrapper shell \(shell) has no child")
        }
        return pid
    }

    /// The words of `stty -a`: `icanon` or `-icanon`, `echo` or `-echo`...
    static func settings(_ sttyOutput: String) -> Set<String> {
        Set(sttyOutput.split { $0 == " " || $0 == "\n" || $0 == ";" }.map(String.init))
    }

    /// While top runs: its terminal is in non-canonical mode without echo and on the alternate
    /// screen, and it was not before (so that restoring it means something).
    func expectRawMode(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = Self.settings(try String(contentsOfFile: directory + "/stty-before", encoding: .utf8))
        #expect(before.isSuperset(of: ["icanon", "echo"]), sourceLocation: sourceLocation)
        let stty = Process()
        stty.executableURL = URL(fileURLWithPath: "/bin/stty")
        stty.arguments = ["-a", "-F", try tmux.value("#{pane_tty}")]
        let out = Pipe()
        stty.standardOutput = out
        try stty.run()
        let now = Self.settings(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        stty.waitUntilExit()
        #expect(now.isSuperset(of: ["-icanon", "-echo"]), "\(now)", sourceLocation: sourceLocation)
        #expect(try tmux.value("#{alternate_on}") == "1", sourceLocation: sourceLocation)
        #expect(try tmux.value("#{cursor_flag}") == "0", "cursor hidden while top runs", sourceLocation: sourceLocation)
    }

    /// After top has gone: its exit status, canonical mode and echo back, the main screen and the cursor.
    func expectRestored(exitStatus: Int32, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let statusFile = directory + "/status"
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !((try? String(contentsOfFile: statusFile, encoding: .utf8))?.hasSuffix("\n") ?? false) { usleep(50_000) }
        let status = try? String(contentsOfFile: statusFile, encoding: .utf8)
        #expect(status == "\(exitStatus)\n", "hvtax top's exit status", sourceLocation: sourceLocation)
        guard status != nil else {
            throw LiveTestFailure("hvtax top did not exit in 20 s; screen:\n" + ((try? tmux.screen())?.joined(separator: "\n") ?? ""))
        }
        let after = Self.settings(try String(contentsOfFile: directory + "/stty-after", encoding: .utf8))
        #expect(after.isSuperset(of: ["icanon", "echo"]), "\(after)", sourceLocation: sourceLocation)
        #expect(try tmux.value("#{alternate_on}") == "0", "back on the main screen", sourceLocation: sourceLocation)
        #expect(try tmux.value("#{cursor_flag}") == "1", "cursor shown again", sourceLocation: sourceLocation)
    }
}

/// One frame of `hvtax top` read off the screen: each row's text, and its foreground colour (SGR
/// 31 red, 33 yellow; nil for the default) at its first visible character.
struct TopFrame {
    static let helpLine = "q quit  s sort  / filter  ↑↓ select  ⏎ vCPUs  ⌫ back  +/- interval  h help"

    let rows: [String]
    let foreground: [Int?]

    /// From `capture-pane` with or without `-e`. tmux carries attributes over from one row to the
    /// next and writes only changes, so the colour state runs through the whole screen.
    init(captured: [String]) {
        var rows: [String] = []
        var foreground: [Int?] = []
        var current: Int?
        for line in captured {
            var text = ""
            var first: Int??
            var scalars = line.unicodeScalars.makeIterator()
            while let scalar = scalars.next() {
                guard scalar == "\u{1b}" else {
                    if first == nil { first = .some(current) }
                    text.unicodeScalars.append(scalar)
                    continue
                }
                guard scalars.next() == "[" else { continue }
                var parameters = ""
                var final: Unicode.Scalar?
                while let next = scalars.next() {
                    if next.properties.isAlphabetic { final = next; break }
                    parameters.unicodeScalars.append(next)
                }
                if final == "m" { current = Self.foreground(after: parameters, from: current) }
            }
            rows.append(text)
            foreground.append(first ?? nil)
        }
        self.rows = rows
        self.foreground = foreground
    }

    static func foreground(after parameters: String, from current: Int?) -> Int? {
        var colour = current
        var codes = parameters.split(separator: ";", omittingEmptySubsequences: false).map { Int($0) ?? 0 }.makeIterator()
        while let code = codes.next() {
            switch code {
            case 0, 39: colour = nil
            case 30...37, 90...97: colour = code
            case 38, 48:  // 256-colour or RGB: skip its operands
                let form = codes.next()
                for _ in 0..<(form == 5 ? 1 : form == 2 ? 3 : 0) { _ = codes.next() }
                if code == 38 { colour = nil }
            default: break
            }
        }
        return colour
    }

    var header: String { rows.first ?? "" }

    var sortKey: String? {
        guard let range = header.range(of: "sort: ") else { return nil }
        return header[range.upperBound...].split(separator: " ").first.map(String.init)
    }

    struct VMRow: CustomStringConvertible {
        let index: Int
        let selected: Bool
        let pid: Int32
        let name: String
        let kind: String
        let vcpus: Int
        let cpu: Double
        let steal: Double?
        let vmm: Double?
        var description: String { "\(selected ? "> " : "")\(pid) \(name) cpu \(cpu) steal \(steal.map { "\($0)" } ?? "-") vmm \(vmm.map { "\($0)" } ?? "-")" }
    }

    /// The VM table: the rows under the `PID  VM ...` title.
    var vmRows: [VMRow] {
        guard let title = rows.firstIndex(where: { $0.hasPrefix("  PID") && $0.contains("STEAL%") }) else { return [] }
        var out: [VMRow] = []
        for index in (title + 1)..<rows.count {
            let line = rows[index]
            let fields = line.dropFirst(2).split(separator: " ")
            guard fields.count >= 8, let pid = Int32(fields[0]), let vcpus = Int(fields[3]), let cpu = Double(fields[4]) else { break }
            out.append(VMRow(index: index, selected: line.hasPrefix(">"), pid: pid, name: String(fields[1]), kind: String(fields[2]),
                             vcpus: vcpus, cpu: cpu, steal: Double(fields[5]), vmm: Double(fields[6])))
        }
        return out
    }

    struct VCPURow {
        let index: Int
        let vcpu: Int
        let tid: Int32
        let steal: Double?
    }

    /// The drill-down's vCPU rows: under the `vCPU  TID ...` title.
    var vcpuRows: [VCPURow] {
        guard let title = rows.firstIndex(where: { $0.hasPrefix("vCPU ") && $0.contains("TID") }) else { return [] }
        var out: [VCPURow] = []
        for index in (title + 1)..<rows.count {
            let fields = rows[index].split(separator: " ")
            guard fields.count >= 4, let vcpu = Int(fields[0]), let tid = Int32(fields[1]) else { break }
            out.append(VCPURow(index: index, vcpu: vcpu, tid: tid, steal: Double(fields[3])))
        }
        return out
    }
}
