import Foundation
import HVTaxHost
import HVTaxModel
import Testing

/// The analyzer on samples built by hand: what needs several intervals (baselines, a rise from
/// one interval to the next) is easier to state this way than as a run of fixture trees.
@Suite("snapshot analyzer")
struct AnalyzerTests {
    static func vm(_ pid: Int32, _ name: String, vcpus: [Int32]) -> DiscoveredVM {
        DiscoveredVM(
            pid: pid, name: name, kind: .qemu, uuid: nil,
            threads: vcpus.enumerated().map { DiscoveredThread(tid: $0.element, pid: pid, name: "CPU \($0.offset)/KVM", role: .vcpu, vcpu: $0.offset) },
            cgroup: nil)
    }

    static func analyzer(_ backend: KVMBackend = .intelVMX) -> SnapshotAnalyzer {
        SnapshotAnalyzer(ticksPerSecond: 100, root: "/", exitRateSource: ExitRateSource(kind: .none, detail: "none"), backend: backend)
    }

    /// Cumulative counters: tid -> (onCPU ns, run delay ns) at second `t`.
    static func sample(_ t: UInt64, _ threads: [Int32: (UInt64, UInt64, Int)], irq: UInt64 = 0) -> HostSample {
        var s = HostSample(monotonicNs: t * 1_000_000_000, realtimeNs: t * 1_000_000_000)
        for (tid, c) in threads {
            var counters = ThreadCounters()
            counters.onCPUNs = c.0
            counters.runDelayNs = c.1
            counters.lastCPU = c.2
            // Ticks that agree with on-CPU time, so no accounting finding is raised.
            counters.utimeTicks = c.0 / 10_000_000
            counters.guestTicks = c.0 / 10_000_000
            s.threads[tid] = counters
        }
        s.interrupts = InterruptCounts(cpus: 2, lines: [.init(irq: "40", device: "eth0-rx-0", perCPU: [irq, 0])])
        return s
    }

    @Test("a VM whose steal rises while a neighbour's demand on the same CPUs rises is named, and only then")
    func noisyNeighbour() throws {
        var a = Self.analyzer()
        let vms = [Self.vm(100, "victim", vcpus: [101]), Self.vm(200, "noisy", vcpus: [201]), Self.vm(300, "elsewhere", vcpus: [301])]
        // victim: steal 1% then 20%; noisy: demand 0.1 then 0.9 CPUs on CPU 0; elsewhere on CPU 5, also rising.
        _ = a.add(Self.sample(0, [101: (0, 0, 0), 201: (0, 0, 0), 301: (0, 0, 5)]), vms: vms)
        let firstSnapshot = a.add(Self.sample(1, [101: (500_000_000, 10_000_000, 0), 201: (100_000_000, 0, 0), 301: (0, 0, 5)]), vms: vms)
        let first = try #require(firstSnapshot)
        #expect(first.noisyNeighbours.isEmpty, "no previous interval to compare with")
        let secondSnapshot = a.add(
            Self.sample(2, [101: (900_000_000, 210_000_000, 0), 201: (1_000_000_000, 0, 0), 301: (900_000_000, 0, 5)]), vms: vms)
        let second = try #require(secondSnapshot)
        #expect(second.noisyNeighbours.count == 1)
        let n = try #require(second.noisyNeighbours.first)
        #expect(n.victim == "victim" && n.neighbour == "noisy" && n.sharedCPUs == [0])
        #expect(n.detail == "noisy is a noisy neighbour of victim: victim's steal rose 1.0% -> 20.0% while noisy's vCPU demand rose 0.10 -> 0.90 CPUs on shared CPUs 0")
    }

    @Test("an IRQ far above its own baseline is a storm; the storm does not raise the baseline")
    func stormAboveBaseline() throws {
        var a = Self.analyzer()
        let vms: [DiscoveredVM] = []
        var count: UInt64 = 0
        _ = a.add(Self.sample(0, [:], irq: count), vms: vms)
        for t in 1...4 {
            count += 200
            let sSnapshot = a.add(Self.sample(UInt64(t), [:], irq: count), vms: vms)
            let s = try #require(sSnapshot)
            #expect(s.interrupts.storms.isEmpty)
        }
        count += 50_000
        let stormSnapshot = a.add(Self.sample(5, [:], irq: count), vms: vms)
        let storm = try #require(stormSnapshot)
        #expect(storm.interrupts.storms.map(\.cause) == [.aboveBaseline])
        #expect(storm.interrupts.storms.first?.detail == "IRQ 40 (eth0-rx-0) at 50.0k/s, 250x its baseline of 200/s")
        count += 50_000
        let stillSnapshot = a.add(Self.sample(6, [:], irq: count), vms: vms)
        let still = try #require(stillSnapshot)
        #expect(still.interrupts.storms.first?.baselinePerSecond == 200)
    }

    @Test("vCPU time missing from stat's ticks is found and named for the paravirtual backend")
    func tickAccounting() throws {
        var a = Self.analyzer(.paravirtual(module: "kvm_pvm"))
        let vms = [Self.vm(100, "t", vcpus: [101])]
        var s0 = Self.sample(0, [101: (0, 0, 0)])
        var s1 = Self.sample(1, [101: (800_000_000, 0, 0)])
        // What this machine shows: 0.8 s on CPU by schedstat, 1 tick of system time, no guest time.
        s0.threads[101]!.utimeTicks = 0
        s0.threads[101]!.guestTicks = 0
        s1.threads[101]!.utimeTicks = 0
        s1.threads[101]!.guestTicks = 0
        s1.threads[101]!.stimeTicks = 1
        _ = a.add(s0, vms: vms)
        let sSnapshot = a.add(s1, vms: vms)
        let s = try #require(sSnapshot)
        #expect(s.findings.map(\.kind) == [.guestTimeMissing, .tickAccountingMissing])
        #expect(s.findings[0].detail.contains("kvm_pvm"))
        #expect(s.findings[1].detail.contains("utime+stime account for 1% of the on-CPU time"))
    }

    @Test("a thread that appears mid-interval and a counter that goes back give no figures, not garbage")
    func resets() throws {
        var a = Self.analyzer()
        let vms = [Self.vm(100, "t", vcpus: [101, 102])]
        _ = a.add(Self.sample(0, [101: (500, 0, 0)]), vms: vms)
        let sSnapshot = a.add(Self.sample(1, [101: (100, 0, 0), 102: (900, 0, 0)]), vms: vms)
        let s = try #require(sSnapshot)
        #expect(s.vms[0].vcpus.map(\.tid) == [101])
        #expect(s.vms[0].vcpus[0].onCPUNs == 0)
    }

    @Test("/proc/interrupts as this machine prints it")
    func interrupts() {
        let text = """
                       CPU0       CPU1       
             24:          1          0  IO-APIC   5-edge      ACPI:Ged
             36:          0     215908 PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0
            NMI:          0          0   Non-maskable interrupts
            LOC:     592206     613973   Local timer interrupts
            ERR:          0
            """
        let parsed = InterruptCounts.parse(text)
        #expect(parsed.cpus == 2)
        #expect(parsed.lines.map(\.irq) == ["24", "36", "NMI", "LOC"])
        #expect(parsed.lines[1] == .init(irq: "36", device: "virtio1-req.0", perCPU: [0, 215908]))
        #expect(parsed.lines[0].device == "ACPI:Ged")
        #expect(parsed.lines[3].device == "Local timer interrupts" && !parsed.lines[3].isDevice)
    }

    @Test("this host's /proc/interrupts, /proc/stat and /proc/self/sched: the byte parsers agree with splitting the text")
    func byteParsersOnThisHost() throws {
        let interruptsText = try String(contentsOfFile: "/proc/interrupts", encoding: .utf8)
        let interrupts = InterruptCounts.parse(Array(interruptsText.utf8)[...])
        let rows = interruptsText.split(separator: "\n").map { $0.split(separator: " ") }
        let cpus = rows[0].count
        #expect(interrupts.cpus == cpus)
        let expected = rows.dropFirst().filter { $0.count > cpus && $0[1...cpus].allSatisfy { UInt64($0) != nil } }
        #expect(interrupts.lines.map(\.irq) == expected.map { String($0[0].dropLast()) })
        #expect(interrupts.lines.map(\.perCPU) == expected.map { $0[1...cpus].map { UInt64($0)! } })
        // The device: what follows the counts, less chip and hwirq on a numbered line.
        #expect(interrupts.lines.map(\.device) == expected.map { row in
            let rest = row[(cpus + 1)...]
            return (row[0].first!.isNumber && rest.count >= 3 ? rest.dropFirst(2) : rest).joined(separator: " ")
        })

        let statText = try String(contentsOfFile: "/proc/stat", encoding: .utf8)
        let ticks = ProcParse.procStat(Array(statText.utf8)[...])
        for row in statText.split(separator: "\n").map({ $0.split(separator: " ") }) where row[0].hasPrefix("cpu") {
            let id = row[0] == "cpu" ? nil : Int(row[0].dropFirst(3))
            #expect(ticks[id] == row.dropFirst().map { UInt64($0)! }, "\(row[0])")
        }
        #expect(ticks.count == statText.split(separator: "\n").filter { $0.hasPrefix("cpu") }.count)

        let schedText = try String(contentsOfFile: "/proc/self/sched", encoding: .utf8)
        var c = ThreadCounters()
        ProcParse.sched(Array(schedText.utf8)[...], into: &c)
        func field(_ key: String) -> UInt64? {
            schedText.split(separator: "\n").first { $0.split(separator: " ").first == Substring(key) }
                .flatMap { $0.split(separator: ":").last.flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) } }
        }
        #expect(c.migrations == field("se.nr_migrations"))
        #expect(c.voluntarySwitches == field("nr_voluntary_switches"))
        #expect(c.involuntarySwitches == field("nr_involuntary_switches"))

        // Read again at the lines found the first time: the same figures; with the lines moved (one
        // more line on top), the keys are not where they were and the file is scanned again.
        let bytes = Array(schedText.utf8)[...]
        var first = ThreadCounters(), again = ThreadCounters(), moved = ThreadCounters()
        let layout = try #require(ProcParse.sched(bytes, into: &first), "nr_involuntary_switches in /proc/self/sched")
        #expect(ProcParse.sched(bytes, into: &again, known: layout) == layout)
        #expect(again == first)
        let shifted = Array(("extra_line : 1\n" + schedText).utf8)[...]
        let relocated = try #require(ProcParse.sched(shifted, into: &moved, known: layout))
        #expect(relocated != layout && moved == first)
    }

    @Test("stat fields are counted from the last ')' even when comm holds spaces and parentheses")
    func statParse() {
        var fields = Array(repeating: "0", count: 52)
        fields[13] = "7"; fields[14] = "8"; fields[38] = "3"; fields[42] = "6"
        let line = "4104 (CPU 0/KVM) (x) " + fields[2...].joined(separator: " ")
        var c = ThreadCounters()
        #expect(ProcParse.stat(ArraySlice(Array(line.utf8)), into: &c))
        #expect(c.utimeTicks == 7 && c.stimeTicks == 8 && c.lastCPU == 3 && c.guestTicks == 6)
    }

    /// The last ')' is found eight bytes at a time: every place it can fall within a word, and comms
    /// full of ')' (the bytes after a word's first match are flagged falsely by the zero-byte test).
    @Test("stat: the comm's closing ')' is found wherever it falls, with ')' inside the comm")
    func statCommAnywhere() {
        let comms = ["", "a", ")", ") ", "x)y", "((()))", String(repeating: ")", count: 15), "kworker/u8:3-events_unbound)",
                     String(repeating: ") 1 2 3 ", count: 8)]
        for comm in comms {
            for pid in ["1", "42", "4104", "1234567"] {
                var fields = (3...52).map { String($0 * 11) }
                fields[14 - 3] = "7"; fields[15 - 3] = "8"; fields[20 - 3] = "11"; fields[39 - 3] = "3"; fields[43 - 3] = "6"
                let line = "\(pid) (\(comm)) " + fields.joined(separator: " ") + "\n"
                var c = ThreadCounters()
                #expect(ProcParse.stat(ArraySlice(Array(line.utf8)), into: &c), "\(line)")
                #expect(c.utimeTicks == 7 && c.stimeTicks == 8 && c.lastCPU == 3 && c.guestTicks == 6, "\(line)")
                #expect(c.processThreads == 11, "\(line)")
            }
        }
        var c = ThreadCounters()
        #expect(!ProcParse.stat(ArraySlice(Array("4104 no parenthesis at all 1 2 3".utf8)), into: &c))
    }

    /// Fields are found by counting single spaces eight bytes at a time; a line spaced otherwise
    /// (runs of spaces, a newline inside) goes to the byte walk. Both must give what splitting the
    /// text after the last ')' on blanks gives, wherever the fields fall within a word.
    @Test("stat: fields found by counting spaces agree with splitting on blanks, for any spacing")
    func statFieldsAnySpacing() {
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        func random(_ bound: UInt64) -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state % bound
        }
        for round in 0..<4000 {
            let fieldCount = 40 + Int(random(13))  // 40...52 fields: some lines end before guest_time (43)
            var text = "\(1 + random(4_000_000)) (" + String(repeating: "x", count: Int(random(17))) + ") R"
            for _ in 4...fieldCount {
                // Mostly the kernel's single space; every fourth line also has runs and newlines.
                let odd = round % 4 == 3 && random(6) == 0
                text += odd ? [" \n", "  ", "   ", "\n"][Int(random(4))] : " "
                let digits = random(3) == 0 ? 1 + random(19) : 1 + random(3)
                text += String(random(UInt64(pow(10, Double(min(digits, 18))))))
            }
            text += random(2) == 0 ? "\n" : ""
            let fields = text[text.index(after: text.lastIndex(of: ")")!)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
            // fields[0] is field 3 (the state).
            func reference(_ n: Int) -> UInt64? { n - 3 < fields.count ? UInt64(fields[n - 3]) : nil }
            var c = ThreadCounters()
            let parsed = ProcParse.stat(ArraySlice(Array(text.utf8)), into: &c)
            #expect(parsed == (fields.count + 2 >= 39), "\(text)")
            #expect(c.utimeTicks == reference(14) && c.stimeTicks == reference(15), "\(text)")
            #expect(c.processThreads == reference(20), "\(text)")
            #expect(c.lastCPU == Int(reference(39) ?? 0), "\(text)")
            #expect(c.guestTicks == (reference(43) ?? 0), "\(text)")
        }
    }

    /// With CONFIG_SCHEDSTATS the file has ~40 more lines and `wait_sum` in ms with six decimals; a
    /// re-read at the known lines (values found from the line's end) gives what the full scan gave,
    /// and a line whose value is not at its end is read from after its key instead.
    @Test("sched with schedstats: the re-read at known lines gives the full scan's figures")
    func schedWithSchedstats() throws {
        func line(_ key: String, _ value: String) -> String {
            key.padding(toLength: 45, withPad: " ", startingAt: 0) + ":" + String(repeating: " ", count: max(1, 21 - value.count)) + value + "\n"
        }
        func file(migrations: String, wait: String, voluntary: String, involuntary: String, tail: String = "") -> [UInt8] {
            var text = "CPU 0/KVM (10010, #threads: 12)\n" + String(repeating: "-", count: 67) + "\n"
            text += line("se.exec_start", "5012345.123456") + line("se.vruntime", "12.000001") + line("se.sum_exec_runtime", "400.5")
            text += line("se.nr_migrations", migrations)
            for i in 0..<8 { text += line("sum_sleep_runtime_\(i)", "1.5") }
            text += line("wait_sum", wait) + line("wait_count", "77") + line("iowait_sum", "3052229.434812")
            for i in 0..<16 { text += line("nr_wakeups_\(i)", "\(i)") }
            text += line("nr_switches", "1200") + line("nr_voluntary_switches", voluntary)
            text += line("nr_involuntary_switches", involuntary).dropLast() + tail + "\n"
            text += line("se.load.weight", "1048576") + line("policy", "0")
            return Array(text.utf8)
        }
        var first = ThreadCounters()
        let layout = try #require(ProcParse.sched(file(migrations: "30", wait: "412.533912", voluntary: "1000", involuntary: "200")[...], into: &first))
        #expect(first.migrations == 30 && first.waitSumNs == 412_533_912 && first.voluntarySwitches == 1000 && first.involuntarySwitches == 200)
        // Later values, same widths: read where they were.
        var again = ThreadCounters()
        let later = file(migrations: "31", wait: "512.000007", voluntary: "1001", involuntary: "201")
        #expect(ProcParse.sched(later[...], into: &again, known: layout) == layout)
        #expect(again.migrations == 31 && again.waitSumNs == 512_000_007 && again.voluntarySwitches == 1001 && again.involuntarySwitches == 201)
        // A value with something after it: not taken from the line's end but from after its key.
        var trailing = ThreadCounters()
        let odd = file(migrations: "31", wait: "512.000007", voluntary: "1001", involuntary: "201", tail: " (x)")
        #expect(ProcParse.sched(odd[...], into: &trailing, known: layout) != nil)
        #expect(trailing.involuntarySwitches == 201 && trailing.waitSumNs == 512_000_007)
    }
}
