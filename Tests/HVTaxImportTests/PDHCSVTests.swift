@testable import HVTaxImport
import HVTaxModel
import Testing

@Suite("PDH-CSV tokens")
struct PDHCSVTests {
    static func number(_ text: String) -> PDHCSV.Number {
        Array(text.utf8).withUnsafeBytes { PDHCSV.number($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, 0, $0.count) }
    }

    @Test("numbers as PDH writers produce them", arguments: [
        ("11.296813511113458", 11.296813511113458),
        ("0", 0),
        ("-1", -1),
        ("100.00", 100),
        ("1.5e-05", 1.5e-05),
        ("2E+3", 2000),
        // Microsoft's own PDH-CSV example ends a value with a dangling exponent.
        ("7.0625001143654654e", 7.0625001143654654),
        // Localized relog output writes a decimal comma inside the quotes.
        ("12,5", 12.5),
        (" 42 ", 42),
        ("0.000123", 0.000123),
        ("123456789012345678901234", 1.2345678901234568e23),
    ])
    func numbers(text: String, expected: Double) {
        guard case .value(let value) = Self.number(text) else {
            Issue.record("\(text) did not parse")
            return
        }
        #expect(value.isClose(to: expected, tolerance: 1e-15))
    }

    @Test("blank and invalid cells", arguments: [(" ", "blank"), ("", "blank"), ("   ", "blank"),
                                                 ("N/A", "invalid"), ("1.2.3", "invalid"), ("-", "invalid"),
                                                 ("12abc", "invalid")])
    func blankAndInvalid(text: String, kind: String) {
        switch Self.number(text) {
        case .blank: #expect(kind == "blank")
        case .invalid: #expect(kind == "invalid")
        case .value(let value): Issue.record("\(text) parsed as \(value)")
        }
    }

    @Test("sample times", arguments: [
        ("09/08/2002 12:35:45.166", PDHCSV.daysFromCivil(year: 2002, month: 9, day: 8) * 86_400 + 45_345, 0.166),
        ("11/20/2026 10:00:05", PDHCSV.daysFromCivil(year: 2026, month: 11, day: 20) * 86_400 + 36_005, 0.0),
        ("01/01/1970 00:00:00.000", 0, 0.0),
    ])
    func times(text: String, seconds: Int, fraction: Double) {
        let parsed = Array(text.utf8).withUnsafeBytes { PDHCSV.localSeconds($0.baseAddress!, 0, $0.count) }
        #expect(parsed.map { $0.isClose(to: Double(seconds) + fraction, tolerance: 1e-12) } == true)
    }

    @Test("not sample times", arguments: ["", "12:35:45", "13/08/2002 12:35:45", "09/08/2002", "09/08/2002 12:35:45x"])
    func notTimes(text: String) {
        let parsed = Array(text.utf8).withUnsafeBytes { bytes in
            bytes.baseAddress.flatMap { PDHCSV.localSeconds($0, 0, bytes.count) }
        }
        #expect(parsed == nil)
    }

    @Test func formatLocalRoundTrips() {
        let text = "09/08/2002 12:35:45.166"
        let seconds = Array(text.utf8).withUnsafeBytes { PDHCSV.localSeconds($0.baseAddress!, 0, $0.count) }!
        #expect(PDHCSV.formatLocal(seconds) == text)
    }

    @Test("header first cells from the reference", arguments: [
        ("(PDH-CSV 4.0) (Eastern Daylight Time)(240)", "PDH-CSV 4.0", "Eastern Daylight Time", 240),
        ("(PDH-CSV 4.0) (UTC)(0)", "PDH-CSV 4.0", "UTC", 0),
        ("(PDH-CSV 4.0) (India Standard Time)(-330)", "PDH-CSV 4.0", "India Standard Time", -330),
    ])
    func preambles(cell: String, format: String, zone: String, bias: Int) {
        #expect(PDHCSV.preamble(cell) == .init(format: format, timeZone: zone, biasMinutes: bias))
    }

    @Test func preambleWithoutBias() {
        #expect(PDHCSV.preamble("(PDH-CSV 4.0)") == .init(format: "PDH-CSV 4.0", timeZone: nil, biasMinutes: nil))
        #expect(PDHCSV.preamble("Time") == nil)
    }

    @Test("cells: quoted, doubled quotes, unquoted, empty, trailing comma")
    func cells() throws {
        let row = #""a","b ""quoted""",3,"",," ","x,y""#
        let cells = try Array(row.utf8).withUnsafeBytes { try PDHCSV.cells($0) }
        #expect(cells == ["a", "b \"quoted\"", "3", "", "", " ", "x,y"])
        let trailing = try Array(#""a","#.utf8).withUnsafeBytes { try PDHCSV.cells($0) }
        #expect(trailing == ["a", ""])
    }

    @Test("broken quoting is an error naming the column", arguments: [
        (#""a","b"#, "column 2 opens a quote"),
        (#""a"x,"b""#, "expected ',' after column 1"),
    ])
    func brokenQuoting(row: String, problem: String) {
        #expect {
            _ = try Array(row.utf8).withUnsafeBytes { try PDHCSV.cells($0) }
        } throws: { error in
            (error as? PDHCSV.ScanError)?.problem.contains(problem) == true
        }
    }

    @Test("counter paths", arguments: [
        (#"\\SQL01\Memory\Pages/sec"#, CounterPath(host: "SQL01", object: "Memory", instance: nil, counter: "Pages/sec")),
        (#"\\SQL01\PhysicalDisk(0 D:)\% Disk Time"#,
         CounterPath(host: "SQL01", object: "PhysicalDisk", instance: "0 D:", counter: "% Disk Time")),
        (#"\hyper-v hypervisor virtual processor(ubuntu20.04:hv vp 0)\hypercalls/sec"#,
         CounterPath(host: nil, object: "hyper-v hypervisor virtual processor", instance: "ubuntu20.04:hv vp 0",
                     counter: "hypercalls/sec")),
        (#"\\HV01\Hyper-V Hypervisor Virtual Processor(web:prod (eu):Hv VP 1)\% Guest Run Time"#,
         CounterPath(host: "HV01", object: "Hyper-V Hypervisor Virtual Processor", instance: "web:prod (eu):Hv VP 1",
                     counter: "% Guest Run Time")),
        (#"\\localhost\Vcpu(28868:Ted_DEV_ORA:28870:vmx-vcpu-0:Ted_DEV_ORA)\% Ready"#,
         CounterPath(host: "localhost", object: "Vcpu", instance: "28868:Ted_DEV_ORA:28870:vmx-vcpu-0:Ted_DEV_ORA",
                     counter: "% Ready")),
        (#"\\h\Group Cpu(7:odd\name)\% Used"#,
         CounterPath(host: "h", object: "Group Cpu", instance: #"7:odd\name"#, counter: "% Used")),
    ])
    func counterPaths(text: String, expected: CounterPath) {
        #expect(CounterPath.parse(text) == expected)
    }

    @Test("not counter paths", arguments: ["Time", #"\\HOST"#, #"\\HOST\Memory"#, #"\Object(instance\Counter"#, ""])
    func notCounterPaths(text: String) {
        #expect(CounterPath.parse(text) == nil)
    }

    @Test("detection from the first bytes", arguments: [
        ("\"(PDH-CSV 4.0) (UTC)(0)\",\"\\\\localhost\\Group Cpu(1:system)\\% Used\"", CaptureKind?.some(.esxtop)),
        ("\r\n\"(PDH-CSV 4.0) (Eastern Daylight Time)(240)\",\"\\\\HV01\\Hyper-V Hypervisor Logical Processor(_Total)\\% Total Run Time\"",
         .some(.hyperV)),
        ("\"(PDH-CSV 4.0) (UTC)(0)\",\"\\hyper-v hypervisor virtual processor(_total)\\total intercepts/sec\"", .some(.hyperV)),
        ("\"(PDH-CSV 4.0) (UTC)(0)\",\"\\\\esx01\\Physical Cpu(0)\\% Processor Time\"", .some(.pdhCSV)),
        ("\u{FEFF}\"(PDH-CSV 4.0) (UTC)(0)\",\"\\\\localhost\\Vcpu(1:a:2:vmx-vcpu-0:a)\\% Ready\"", .some(.esxtop)),
        // Cut from the middle of a capture: claimed, so the importer can say the header is missing.
        ("\"09/08/2002 12:35:45.166\",\"11.296813511113458\",\"7.0625\"\r\n", .some(.pdhCSV)),
        ("\"09/08/2002 12:35:45.166\"", nil),
        ("# tracer: nop\n#\n", nil),
        ("CPU 0/KVM-1234  [001] .... 12.345: kvm_exit: reason HLT", nil),
        ("", nil),
    ])
    func detection(prefix: String, expected: CaptureKind?) {
        #expect(CaptureImporter.detect(prefix: Array(prefix.utf8)) == expected)
    }

    @Test func detectionOfUTF16() {
        let utf16: [UInt8] = [0xFF, 0xFE] + "\"(PDH-CSV 4.0)".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(CaptureImporter.detect(prefix: utf16) == .pdhCSV)
    }
}
