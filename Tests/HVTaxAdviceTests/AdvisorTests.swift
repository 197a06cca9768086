import Foundation
import HVTaxAdvice
import HVTaxAnalysis
import HVTaxModel
import HVTaxPipeline
import HVTaxRender
import HVTaxTestSupport
import Testing

@Suite struct AdvisorTests {
    let advisor = try! Advisor.standard()

    @Test func findingsAreRankedByTheTimeTheyCost() {
        let ms: UInt64 = 1_000_000
        // PAUSE 3%, EPT violations 8%, HLT polling 2.5%, and steal of 12% of wall time.
        let report = Build.trace(exits: [.init(reason: "PAUSE_INSTRUCTION", count: 100, hypervisorNs: 30 * ms),
                                         .init(reason: "EPT_VIOLATION", count: 100, hypervisorNs: 80 * ms),
                                         .init(reason: "HLT", count: 100, hypervisorNs: 25 * ms)],
                                 preemptedNs: 136_363_637)
        let advice = advisor.advise(report)
        #expect(advice.findings.map(\.rule) == ["steal-preemption", "ept-violations", "pause-loop-exits", "halt-polling"])
        let costs = advice.findings.compactMap(\.costRatio)
        #expect(costs == costs.sorted(by: >))
        #expect(abs(costs[1] - 0.08) < 1e-9)
    }

    /// Ten rounds of 100 µs: an OUT to COM1 that QEMU handles (exit -> entry 30 µs), then an IN
    /// from PCI config data that stays in the kernel (10 µs). Each rule names only its own port.
    @Test func deviceAccessFindingsNameTheAddressesBehindThem() throws {
        var trace = VCPUTraceText()
        trace.at(0, "kvm_entry: vcpu 0, rip 0x1")
        let exit = "vcpu 0 reason IO_INSTRUCTION rip 0x1 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0"
        for round in 0..<10 {
            let t = 100 + round * 100
            trace.at(t, "kvm_exit: " + exit)
            trace.at(t + 1, "kvm_pio: pio_write at 0x3f8 size 1 count 1 val 0x41 ")
            trace.at(t + 2, "kvm_userspace_exit: reason KVM_EXIT_IO (2)")
            trace.at(t + 30, "kvm_entry: vcpu 0, rip 0x1")
            trace.at(t + 50, "kvm_exit: " + exit)
            trace.at(t + 51, "kvm_pio: pio_read at 0xcfc size 4 count 1 val 0x0 ")
            trace.at(t + 60, "kvm_entry: vcpu 0, rip 0x1")
        }
        let path = FileManager.default.temporaryDirectory.path + "/hvtax-advice-io-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try trace.write(to: path)
        let advice = advisor.advise(try TraceReportPipeline.run(paths: [path]))
        let vmm = try #require(advice.findings.first { $0.rule == "io-exits-through-vmm" })
        let kernel = try #require(advice.findings.first { $0.rule == "io-exits" })
        #expect(vmm.accesses?.map(\.key) == ["0x3f8:POUT"])
        #expect(vmm.accesses?.first?.count == 10 && vmm.accesses?.first?.throughVMM == 10)
        #expect(kernel.accesses?.map(\.key) == ["0xcfc:PIN"])
        // Rules about other causes name no addresses.
        #expect(advice.findings.filter { $0.accesses != nil }.map(\.rule).sorted() == ["io-exits", "io-exits-through-vmm"])
        let text = AdviceTextRenderer(style: TerminalStyle(colour: false)).render(advice)
        #expect(text.contains("     where: 0x3f8:POUT (COM1) 10 accesses, 10 through the VMM\n"))
        #expect(text.contains("     where: 0xcfc:PIN (PCI config data) 10 accesses, 0 through the VMM\n"))
    }

    @Test func aFigureTheReportCannotGiveIsListedNotSilent() {
        let advice = advisor.advise(Build.trace(hasExitEvents: false))
        let io = advice.unevaluated.first { $0.rule == "io-exits-through-vmm" }
        #expect(io?.reason.contains("no kvm_exit events") == true)
        // A trace file carries no throttling: the rule is unevaluated and a note says unknown.
        #expect(advice.unevaluated.contains { $0.rule == "host-throttled" })
        #expect(advice.notes.contains { $0.contains("Throttling during the measurement: unknown") })
    }

    @Test func throttlingDuringTheIntervalIsSaidToInflateTimes() {
        let advice = advisor.advise(Build.snapshot(throttling: Build.throttling(.throttled, events: 4)))
        #expect(advice.notes.contains { $0.contains("exit and guest times are inflated") })
        #expect(advice.findings.contains { $0.rule == "host-throttled" })
    }

    @Test func untrustedSourcesAreNamedWithTheirReason() {
        let advice = advisor.advise(Build.validation(verdict: .notTrustworthy, discrepancy: 1.0, state: .disagrees))
        #expect(advice.notes.contains("Accounting source guest-time is not trustworthy here: guest code is emulated"))
        let finding = advice.findings.first { $0.rule == "untrusted-accounting" }
        #expect(finding?.scope == "db01")
        #expect(finding?.threshold.figure == "accounting.worstDiscrepancyRatio")
    }

    @Test func rulesFileErrorsNameTheRuleAndWhatWasExpected() throws {
        let unknownFigure = """
            {"version": "t", "exitClasses": {}, "figures": {"steal": {"unit": "ratio", "label": "s"}},
             "rules": [{"id": "r1", "title": "t", "cause": "c", "remedy": "r", "references": [],
                        "signals": [{"reports": ["trace"], "scope": "vm", "figure": "stael", "warningAbove": 0.1, "evidence": []}]}]}
            """
        #expect { try RuleBook.load(Data(unknownFigure.utf8), origin: "rules.json") } throws: { error in
            "\(error)" == "rules.json: rule r1, signal 0: figure stael is not in the figures catalogue"
        }
        let noLimit = unknownFigure.replacingOccurrences(of: "stael", with: "steal").replacingOccurrences(of: "\"warningAbove\": 0.1, ", with: "")
        #expect { try RuleBook.load(Data(noLimit.utf8), origin: "rules.json") } throws: { error in
            "\(error)".contains("expected warningAbove/criticalAbove or warningBelow/criticalBelow")
        }
        let badKind = unknownFigure.replacingOccurrences(of: "stael", with: "steal").replacingOccurrences(of: "[\"trace\"]", with: "[\"tracee\"]")
        #expect { try RuleBook.load(Data(badKind.utf8), origin: "rules.json") } throws: { error in
            "\(error)".hasPrefix("rules.json: rules[0].signals[0].reports[0]")
        }
    }

    @Test func theShippedRulesCoverTheIssuesCauses() throws {
        let ids = Set(try RuleBook.standard().rules.map(\.id))
        for id in ["io-exits-through-vmm", "ept-violations", "external-interrupts-on-vcpu-cpus", "halt-polling", "pause-loop-exits",
                   "msr-timer-exits", "steal-preemption", "emulated-instructions", "untrusted-accounting", "host-throttled"] {
            #expect(ids.contains(id), "missing rule \(id)")
        }
    }

    /// The example trace through the real pipeline: its figures, computed by hand from the trace's
    /// exit tables, decide the findings.
    @Test func exampleTraceGetsFindingsThatMatchItsExitTables() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let report = try TraceReportPipeline.run(paths: [example], options: AnalysisOptions(), generator: "test")
        let advice = advisor.advise(report)
        #expect(!advice.findings.isEmpty)
        for finding in advice.findings where finding.threshold.figure.hasPrefix("exits.") && finding.threshold.figure.hasSuffix(".timeShare") {
            let vm = try #require(report.vms.first { $0.name == finding.scope })
            let book = try RuleBook.standard()
            let parts = finding.threshold.figure.split(separator: ".")
            let time: UInt64
            if parts[1] == "vmmPath" {
                time = vm.exits.paths.vmm.hypervisorTime + vm.exits.paths.vmm.vmmTime
            } else {
                let reasons = Set(try #require(book.exitClasses[String(parts[1])]))
                time = vm.exits.byReason.filter { reasons.contains($0.reason) }.reduce(0) { $0 + $1.hypervisorTime + $1.vmmTime }
            }
            let share = Double(time) / Double(vm.split.onCPUForGuest)
            #expect(abs(share - finding.threshold.value) < 1e-12)
        }
        let text = TraceReportTextRenderer(style: TerminalStyle(colour: false)).render({ var r = report; r.advice = advice; return r }())
        #expect(text.contains("Findings"))
        #expect(text.contains("threshold: "))
    }

    @Test func renderersShowFindingsInTextHTMLAndJSON() throws {
        var report = Build.trace(exits: [.init(reason: "EPT_VIOLATION", count: 3000, hypervisorNs: 80_000_000)])
        report.advice = advisor.advise(report)
        let text = TraceReportTextRenderer(style: TerminalStyle(colour: false)).render(report)
        #expect(text.contains("1. critical web01: EPT/NPT violations and page-fault exits"))
        #expect(text.contains("threshold: exits.pageFault.timeShare 8.0% > 5.0% (critical) (rule ept-violations)"))
        #expect(text.contains("costs 8.0% of vCPU on-CPU time"))
        #expect(text.contains("remedy: Back guest RAM with hugepages"))
        let evaluated = try #require(report.advice?.rulesEvaluated)
        #expect(text.contains("(ranked by the time they cost; \(evaluated) rules of "))
        // validate evaluates a single rule: the heading says "1 rule", not "1 rules".
        report.advice?.rulesEvaluated = 1
        #expect(TraceReportTextRenderer(style: TerminalStyle(colour: false)).render(report)
            .contains("(ranked by the time they cost; 1 rule of "))
        report.advice?.rulesEvaluated = evaluated
        let html = HTMLReportRenderer().render(report)
        #expect(html.contains("<h2 id=\"findings\">Findings</h2>"))
        #expect(html.contains("exits.pageFault.timeShare 8.0% &gt; 5.0% (critical)"))
        let json = try JSONRendering.render(report)
        let decoded = try JSONDecoder().decode(TraceReport.self, from: Data(json.utf8))
        #expect(decoded.advice == report.advice)

        var snapshot = Build.snapshot(vmSteal: 0.07, vcpuSteal: [0.07, 0.07])
        snapshot.advice = advisor.advise(snapshot)
        #expect(SnapshotTextRenderer().render(snapshot).contains("db01: Steal: vCPUs runnable but waiting for a host CPU"))
        var capture = Build.capture(kind: .esxtop, values: [.coStop: 0.05])
        capture.advice = advisor.advise(capture)
        #expect(CaptureTextRenderer(style: TerminalStyle(colour: false)).render(capture).contains("sql01: Co-stop"))
    }
}

@Suite struct AdviceDocsTests {
    @Test func docsNameEveryRuleAndFigure() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/advice.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let book = try RuleBook.standard()
        for rule in book.rules { #expect(text.contains("`\(rule.id)`"), "docs/advice.md does not name rule \(rule.id)") }
        for figure in book.figures.keys { #expect(text.contains("`\(figure)`"), "docs/advice.md does not name figure \(figure)") }
    }

    /// A rule's "see" lines are printed to users: a repository file they name must be in the
    /// repository (not a path outside it), so that a reader of the finding can open it.
    @Test func referencesNameFilesThatExist() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let book = try RuleBook.standard()
        for rule in book.rules {
            for reference in rule.references {
                #expect(!reference.contains("../"), "rule \(rule.id) points outside the repository: \(reference)")
                guard reference.hasPrefix("docs/") else { continue }
                let file = String(reference.prefix { $0 != " " && $0 != ":" && $0 != "#" })
                #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent(file).path),
                        "rule \(rule.id) names \(file), which is not in the repository")
            }
        }
    }
}
