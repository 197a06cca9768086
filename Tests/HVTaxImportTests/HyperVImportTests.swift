import Foundation
import HVTaxImport
import HVTaxModel
import HVTaxTestSupport
import HVTaxTrace
import Testing

@Suite("Hyper-V perfmon captures", .scratchDirectory)
struct HyperVImportTests {
    static let lp = #"\\HV01\Hyper-V Hypervisor Logical Processor"#
    static let vp = #"\\HV01\Hyper-V Hypervisor Virtual Processor"#
    static let root = #"\\HV01\Hyper-V Hypervisor Root Virtual Processor"#

    /// A typeperf capture with known truth. Three samples; the rates are blank in the first one,
    /// as typeperf writes them (a rate needs two readings). Per sample:
    /// - LP 0: guest 40, hypervisor 5, total 45, idle 55; LP 1: guest 20, hypervisor 5, total 25, idle 75.
    /// - sql01 VP 0 and VP 1: guest 20/40/30 %, hypervisor 2/4/3 %, wait per dispatch 8,000/12,000/10,000 ns,
    ///   intercepts -/1,000/3,000 per s, hypercalls -/500/700 per s.
    /// - `web:prod (eu)` (a VM name with a colon and parentheses) VP 0: guest 10, hypervisor 10,
    ///   wait per dispatch 70,000; its second sample is blank in every cell (a row with blanks).
    /// - `late` VP 0 starts mid-way: blank until the third sample, guest 50, hypervisor 0.
    /// - Root VP 0 and 1: total run 7 each; `_Total` columns of VPs and root are present and ignored.
    static let capture: String = {
        let columns = [
            "\(lp)(Hv LP 0)\\% Guest Run Time", "\(lp)(Hv LP 0)\\% Hypervisor Run Time",
            "\(lp)(Hv LP 0)\\% Total Run Time", "\(lp)(Hv LP 0)\\% Idle Time",
            "\(lp)(Hv LP 1)\\% Guest Run Time", "\(lp)(Hv LP 1)\\% Hypervisor Run Time",
            "\(lp)(Hv LP 1)\\% Total Run Time", "\(lp)(Hv LP 1)\\% Idle Time",
            "\(vp)(sql01:Hv VP 0)\\% Guest Run Time", "\(vp)(sql01:Hv VP 0)\\% Hypervisor Run Time",
            "\(vp)(sql01:Hv VP 0)\\CPU Wait Time Per Dispatch", "\(vp)(sql01:Hv VP 0)\\Total Intercepts/sec",
            "\(vp)(sql01:Hv VP 0)\\Hypercalls/sec",
            "\(vp)(sql01:Hv VP 1)\\% Guest Run Time", "\(vp)(sql01:Hv VP 1)\\% Hypervisor Run Time",
            "\(vp)(sql01:Hv VP 1)\\CPU Wait Time Per Dispatch", "\(vp)(sql01:Hv VP 1)\\Total Intercepts/sec",
            "\(vp)(sql01:Hv VP 1)\\Hypercalls/sec",
            "\(vp)(web:prod (eu):Hv VP 0)\\% Guest Run Time", "\(vp)(web:prod (eu):Hv VP 0)\\% Hypervisor Run Time",
            "\(vp)(web:prod (eu):Hv VP 0)\\CPU Wait Time Per Dispatch",
            "\(vp)(late:Hv VP 0)\\% Guest Run Time", "\(vp)(late:Hv VP 0)\\% Hypervisor Run Time",
            "\(vp)(_Total)\\% Guest Run Time",
            "\(root)(Root VP 0)\\% Total Run Time", "\(root)(Root VP 1)\\% Total Run Time",
            "\(root)(_Total)\\% Total Run Time",
            "\(vp)(sql01:Hv VP 0)\\Page Fault Intercepts/sec",
            #"\\HV01\Memory\Pages/sec"#,
        ]
        let lps: [String?] = ["40", "5", "45", "55", "20", "5", "25", "75"]
        func sql(_ guest: String, _ hypervisor: String, _ wait: String, _ intercepts: String?, _ hypercalls: String?) -> [String?] {
            [guest, hypervisor, wait, intercepts, hypercalls]
        }
        let rows: [(time: String, cells: [String?])] = [
            (CaptureFiles.time(0), lps + sql("20", "2", "8000", nil, nil) + sql("20", "2", "8000", nil, nil)
                + ["10", "10", "70000"] + [nil, nil] + ["123"] + ["7", "7", "14"] + [nil, "3"]),
            (CaptureFiles.time(1), lps + sql("40", "4", "12000", "1000", "500") + sql("40", "4", "12000", "1000", "500")
                + [nil, nil, nil] + [nil, nil] + ["123"] + ["7", "7", "14"] + ["1", "3"]),
            (CaptureFiles.time(2), lps + sql("30", "3", "10000", "3000", "700") + sql("30", "3", "10000", "3000", "700")
                + ["10", "10", "70000"] + ["50", "0"] + ["123"] + ["7", "7", "14"] + ["1", "3"]),
        ]
        // typeperf prints a blank line before the header and its own messages after the rows.
        return "\r\n" + CaptureFiles.pdh(preamble: "(PDH-CSV 4.0) (Eastern Daylight Time)(240)", columns: columns, rows: rows)
            + "Exiting, please wait...\r\nThe command completed successfully.\r\n"
    }()

    @Test func headerAndTimes() throws {
        let report = try CaptureFiles.importText(Self.capture)
        #expect(report.schema == "hvtax.capture-report/1")
        #expect(report.source.kind == .hyperV)
        #expect(report.source.format == "PDH-CSV 4.0")
        #expect(report.source.timeZone == "Eastern Daylight Time")
        #expect(report.source.biasMinutes == 240)
        #expect(report.source.samples == 3)
        #expect(report.source.columns == 29)
        #expect(report.source.intervalSeconds == 5)
        #expect(report.source.firstSampleLocal == "09/08/2002 12:35:45.166")
        // EDT is UTC-4: the bias of 240 minutes brings the local 12:35:45.166 to 16:35:45.166 UTC.
        let utc = Double(PDHCSVTestsSupport.days(2002, 9, 8) * 86_400 + 16 * 3600 + 35 * 60 + 45) + 0.166
        #expect(report.source.firstSampleUTCSeconds.map { $0.isClose(to: utc) } == true)
        #expect(report.source.durationSeconds == 10)
        #expect(report.quality.otherLines == 2)
        #expect(report.quality.malformedRows == 0)
    }

    @Test func virtualProcessorsPerVM() throws {
        let report = try CaptureFiles.importText(Self.capture)
        let host = try #require(report.hosts.first)
        #expect(report.hosts.count == 1)
        #expect(host.name == "HV01")
        #expect(host.vms.map(\.name) == ["late", "sql01", "web:prod (eu)"])
        #expect(host.vmCount == 3)
        #expect(host.vcpuCount == 4)

        let sql = try #require(host.vms.first { $0.name == "sql01" })
        #expect(sql.cpuCount == 2)
        #expect(sql.cpus.map(\.index) == [0, 1])
        let guest = try #require(sql.values[.guest])
        #expect(guest.mean.isClose(to: 0.30) && guest.min.isClose(to: 0.20) && guest.max.isClose(to: 0.40))
        #expect(guest.samples == 3)
        #expect(sql.values[.hypervisor]?.mean.isClose(to: 0.03) == true)
        #expect(sql.tax.ratio.map { $0.isClose(to: 0.03 / 0.33) } == true)
        #expect(sql.tax.level == .warning)
        // 10,000 ns is the quiet-host level itself: not above it.
        #expect(sql.values[.dispatchWait]?.mean.isClose(to: 10_000) == true)
        #expect(sql.levels[.dispatchWait] == .ok)
        #expect(sql.values[.intercepts].map { $0.mean.isClose(to: 2000) && $0.samples == 2 } == true)
        #expect(sql.values[.hypercalls]?.mean.isClose(to: 600) == true)
        // Hyper-V has no share of time waiting: steal is unavailable, not zero.
        #expect(sql.steal.ratio == nil && sql.steal.level == .unavailable)
        #expect(sql.values[.preempted] == nil && sql.values[.vmm] == nil && sql.values[.halted] == nil)

        let web = try #require(host.vms.first { $0.name == "web:prod (eu)" })
        #expect(web.cpus.first?.instance == "web:prod (eu):Hv VP 0")
        #expect(web.values[.guest].map { $0.mean.isClose(to: 0.10) && $0.samples == 2 } == true)
        #expect(web.tax.ratio.map { $0.isClose(to: 0.5) } == true)
        #expect(web.tax.level == .critical)
        #expect(web.levels[.dispatchWait] == .critical)
        #expect(web.worst == .critical)

        let late = try #require(host.vms.first { $0.name == "late" })
        #expect(late.values[.guest].map { $0.mean.isClose(to: 0.5) && $0.samples == 1 } == true)
        #expect(late.tax.ratio == 0)
    }

    @Test func hostMeansPerVCPU() throws {
        let host = try #require(try CaptureFiles.importText(Self.capture).hosts.first)
        // Sample 0: sql 20, 20, web 10 -> 50/3; sample 1: 40, 40 -> 40 (web and late blank);
        // sample 2: 30, 30, 10, 50 -> 30.
        let guest = try #require(host.values[.guest])
        let firstSample: Double = 50.0 / 3
        let expected: Double = (firstSample + 40 + 30) / 300
        #expect(guest.mean.isClose(to: expected))
        #expect(guest.min.isClose(to: firstSample / 100) && guest.max.isClose(to: 0.40))
        #expect(host.tax.level == .critical)
        #expect(host.steal.level == .unavailable)
    }

    @Test func logicalProcessorsAndRoot() throws {
        let host = try #require(try CaptureFiles.importText(Self.capture).hosts.first)
        let lps = try #require(host.logicalProcessors)
        #expect(lps.cpuCount == 2)
        #expect(lps.cpus.map(\.instance) == ["Hv LP 0", "Hv LP 1"])
        #expect(lps.values[.guest]?.mean.isClose(to: 0.30) == true)
        #expect(lps.values[.halted]?.mean.isClose(to: 0.65) == true)
        #expect(lps.values[.totalRun]?.mean.isClose(to: 0.35) == true)
        #expect(lps.levels[.totalRun] == .ok)
        #expect(lps.tax.ratio.map { $0.isClose(to: 0.05 / 0.35) } == true)
        #expect(lps.steal.level == .unavailable)
        let root = try #require(host.root)
        #expect(root.cpus.count == 2)
        #expect(root.values[.totalRun]?.mean.isClose(to: 0.07) == true)
        // 14 of 70 points of LP run time were the root's.
        #expect(host.rootShareOfRunTime.map { $0.isClose(to: 0.2) } == true)
    }

    @Test func availabilitySaysWhatHyperVCannotGive() throws {
        let report = try CaptureFiles.importText(Self.capture)
        let vmm = try #require(report.availability(of: .vmm))
        #expect(!vmm.available && vmm.reason?.contains("root partition") == true)
        let preempted = try #require(report.availability(of: .preempted))
        #expect(!preempted.available && preempted.reason?.contains("CPU Wait Time Per Dispatch") == true)
        // Idle exists for logical processors only: not available for VMs.
        let halted = try #require(report.availability(of: .halted))
        #expect(!halted.available && halted.reason?.contains("per logical processor") == true)
        let msr = try #require(report.availability(of: .msrAccesses))
        #expect(!msr.available && msr.reason == #"not in this capture: add \Hyper-V Hypervisor Virtual Processor(*)\MSR Accesses/sec to the collector"#)
        #expect(report.isAvailable(.guest) && report.isAvailable(.intercepts) && report.isAvailable(.dispatchWait))
        #expect(report.availability(of: .guest)?.source == #"Hyper-V Hypervisor Virtual Processor(*)\% Guest Run Time"#)
        #expect(report.figures.count == CaptureFigure.allCases.count)
        #expect(report.quality.unknownCounters == [#"Hyper-V Hypervisor Virtual Processor\Page Fault Intercepts/sec"#])
        #expect(report.quality.unusedObjects == ["Memory": 1])
        // Only the columns hvtax reads: the first row's four rates and late's two cells, then
        // web's blank row and late's two cells again.
        #expect(report.quality.blankCells == (4 + 2) + (3 + 2))
    }

    /// The lower-case paths a public monitor's tests use: no host, `_total` instances only.
    @Test func lowerCasePaths() throws {
        let text = CaptureFiles.pdh(columns: [
            #"\hyper-v hypervisor logical processor(_total)\total interrupts/sec"#,
            #"\hyper-v hypervisor root virtual processor(_total)\hypercalls/sec"#,
            #"\hyper-v hypervisor virtual processor(_total)\total intercepts/sec"#,
            #"\hyper-v hypervisor virtual processor(ubuntu20.04:hv vp 0)\hypercalls/sec"#,
        ], rows: [(CaptureFiles.time(0), ["1000", "50", "900", "40"]), (CaptureFiles.time(1), ["3000", "70", "1100", "60"])])
        let report = try CaptureFiles.importText(text)
        #expect(report.source.kind == .hyperV)
        let host = try #require(report.hosts.first)
        #expect(host.name == "(host not named in paths)")
        let vm = try #require(host.vms.first)
        #expect(host.vms.count == 1 && vm.name == "ubuntu20.04")
        #expect(vm.cpus.first?.index == 0)
        #expect(vm.values[.hypercalls]?.mean.isClose(to: 50) == true)
        #expect(host.logicalProcessors?.cpuCount == nil)
        #expect(host.logicalProcessors?.values[.interrupts]?.mean.isClose(to: 2000) == true)
        // No run-time counters at all: no tax, and the report says which counter is missing.
        #expect(vm.tax.ratio == nil && vm.tax.level == .unavailable)
        #expect(report.availability(of: .guest)?.reason?.contains(#"% Guest Run Time"#) == true)
    }

    @Test func localizedCountersAreReportedClearly() throws {
        let text = CaptureFiles.pdh(columns: [
            #"\\HV01\Hyper-V-Hypervisor - virtueller Prozessor(vm1:Hv VP 0)\% Gastlaufzeit"#,
            #"\\HV01\Speicher\Seiten/s"#,
        ], rows: [(CaptureFiles.time(0), ["10", "1"])])
        let path = try CaptureFiles.write(text)
        #expect {
            _ = try CaptureImporter.importFile(path: path)
        } throws: { error in
            guard let error = error as? TraceReadError else { return false }
            return error.file == path && error.location == "line 1" && error.problem.contains("translated")
                && error.problem.contains("Hyper-V-Hypervisor - virtueller Prozessor")
        }
    }

    @Test func aBadRowIsCountedWithItsLine() throws {
        var text = CaptureFiles.pdh(columns: ["\(Self.vp)(a:Hv VP 0)\\% Guest Run Time", "\(Self.vp)(a:Hv VP 0)\\% Hypervisor Run Time"],
                                    rows: [(CaptureFiles.time(0), ["10", "1"])])
        text += "\"not a time\",\"1\",\"2\"\r\n"
        text += "\"\(CaptureFiles.time(2))\",\"1\",\"2\",\"3\"\r\n"
        text += "\"\(CaptureFiles.time(3))\",\"oops\",\"2\"\r\n"
        text += "\"\(CaptureFiles.time(4))\",\"30\"\r\n"
        text += "\"\(CaptureFiles.time(5))\",\"20\",\"2"
        let report = try CaptureFiles.importText(text)
        #expect(report.source.samples == 3)
        #expect(report.quality.malformedRows == 2)
        #expect(report.quality.malformedCells == 1)
        #expect(report.quality.shortRows == 1)
        #expect(report.quality.truncated)
        #expect(report.quality.examples.map(\.line) == [3, 4, 5])
        #expect(report.quality.examples[0].problem.contains("expected a sample time"))
        #expect(report.quality.examples[1].problem.contains("4 cells, but the header has 3"))
        let vm = try #require(report.hosts.first?.vms.first)
        #expect(vm.values[.guest].map { $0.mean.isClose(to: 0.20) && $0.samples == 2 } == true)
        #expect(vm.values[.hypervisor].map { $0.mean.isClose(to: 0.015) && $0.samples == 2 } == true)
    }

    @Test("files that are not captures get an error naming file, place and expectation", arguments: [
        ("", "line 1", "empty file"),
        ("\"Time\",\"CPU\"\n\"1\",\"2\"\n", "line 1", "expected a PDH-CSV header whose first cell is like"),
        // A capture cut from its middle: the header with the counter paths is gone.
        ("\"09/08/2002 12:35:45.166\",\"11.2\",\"7.0\"\r\n", "line 1", "starts in the middle of a capture"),
        ("\"(PDH-CSV 4.0) (UTC)(0)\"\r\n", "line 1", "no counter columns"),
        ("\"(PDH-CSV 4.0) (UTC)(0)\",\"\\\\SQL01\\Memory\\Pages/sec\"\r\n", "line 1", "found Memory"),
        ("\"(PDH-CSV 4.0) (UTC)(0)\",\"\\\\SQL01\\Memory\\Pages/sec\r\n", "line 1", "opens a quote"),
    ])
    func notCaptures(text: String, location: String, problem: String) throws {
        let path = try CaptureFiles.write(text)
        #expect {
            _ = try CaptureImporter.importFile(path: path)
        } throws: { error in
            guard let error = error as? TraceReadError else { return false }
            return error.file == path && error.location == location && error.problem.contains(problem)
        }
    }

    @Test func utf16IsNamed() throws {
        let text = "\"(PDH-CSV 4.0) (UTC)(0)\",\"\\\\H\\Memory\\Pages/sec\"\r\n"
        var data = Data([0xFF, 0xFE])
        for unit in text.utf16 { data.append(contentsOf: [UInt8(unit & 0xFF), UInt8(unit >> 8)]) }
        let path = try CaptureFiles.write(data, name: "utf16.csv")
        #expect(try CaptureImporter.detect(path: path) == .pdhCSV)
        #expect {
            _ = try CaptureImporter.importFile(path: path)
        } throws: { error in
            (error as? TraceReadError).map { $0.location == "byte offset 0" && $0.problem.contains("UTF-16") } == true
        }
    }

    @Test func headerOnly() throws {
        let report = try CaptureFiles.importText(CaptureFiles.pdh(columns: ["\(Self.vp)(a:Hv VP 0)\\% Guest Run Time"], rows: []))
        #expect(report.source.samples == 0)
        #expect(report.hosts.first?.vms.first?.values.isEmpty == true)
        #expect(report.quality.notes.contains { $0.contains("no sample rows") })
    }

    @Test func missingFileIsAnError() {
        #expect(throws: TraceReadError.self) { try CaptureImporter.importFile(path: "/nonexistent/capture.csv") }
    }
}

enum PDHCSVTestsSupport {
    /// Days since 1970 of a date, computed independently of the importer (Foundation's calendar).
    static func days(_ year: Int, _ month: Int, _ day: Int) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = calendar.date(from: DateComponents(year: year, month: month, day: day))!
        return Int(date.timeIntervalSince1970) / 86_400
    }
}
