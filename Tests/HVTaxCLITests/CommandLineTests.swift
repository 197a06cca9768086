import Foundation
import Testing

/// The `hvtax` binary as a user runs it: exit codes, formats, stdin, errors.
struct CommandLineTests {
    /// The built `hvtax` next to the test bundle (this target depends on it, so it is built).
    static var binary: URL {
        var directory = Bundle.main.bundleURL
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("hvtax").path) {
            directory.deleteLastPathComponent()
            if directory.path == "/" { break }
        }
        return directory.appendingPathComponent("hvtax")
    }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func hvtax(_ arguments: [String], stdin: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func reportsTheShippedExampleAsTheReadmeSays() throws {
        let example = Self.repository.appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let text = try Self.hvtax(["report", example])
        #expect(text.status == 0)
        #expect(text.stdout.contains("Host  3 VMs, 6 vCPUs"))
        #expect(text.stdout.contains("Trace quality"))
        #expect(!text.stdout.contains("\u{1b}["), "no colour when not on a terminal")

        let json = try Self.hvtax(["report", example, "--format", "json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(report["schema"] as? String == "hvtax.trace-report/1")

        // The truth shipped beside the example: every vCPU's split matches it exactly.
        let truthData = try Data(contentsOf: Self.repository.appendingPathComponent("examples/three-vms.truth.json"))
        let truth = try #require(try JSONSerialization.jsonObject(with: truthData) as? [String: Any])
        let truthVCPUs = try #require(truth["vcpus"] as? [[String: Any]])
        let vms = try #require(report["vms"] as? [[String: Any]])
        let vcpus = vms.flatMap { ($0["vcpus"] as? [[String: Any]]) ?? [] }
        #expect(vcpus.count == truthVCPUs.count)
        for expected in truthVCPUs {
            let measured = try #require(vcpus.first { $0["tid"] as? Int == expected["tid"] as? Int })
            #expect((measured["split"] as? [String: Int]) == (expected["split"] as? [String: Int]))
        }

        let csv = try Self.hvtax(["report", example, "--format", "csv"])
        #expect(csv.stdout.hasPrefix("scope,vm,vcpu,tid,reason,path,metric,value,unit\n"))
        // The trace-quality counters come with the figures: the example lost 20 events, 6 on cpu0.
        for row in ["quality,,,,,,events,20030,count", "quality,,,,,,lost_events,20,count", "quality,,,,,,lost_events_cpu0,6,count",
                    "quality,,,,,,uncounted_gaps,0,count", "quality,,,,,,malformed_lines,0,count"] {
            #expect(csv.stdout.contains(row + "\n"), "\(row)")
        }
    }

    @Test func readsStdin() throws {
        let fixture = Self.repository.appendingPathComponent("Tests/HVTaxTraceTests/Fixtures/perf-script.txt")
        let result = try Self.hvtax(["report", "-", "--format", "json"], stdin: try Data(contentsOf: fixture))
        #expect(result.status == 0)
        #expect(result.stdout.contains("\"path\" : \"-\""))
        #expect(result.stdout.contains("\"format\" : \"perf-script\""))
    }

    @Test func garbageFailsWithFileAndLine() throws {
        let result = try Self.hvtax(["report", "/etc/passwd"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/etc/passwd: line 1: not a text trace"))
        let missing = try Self.hvtax(["report", "/nonexistent.txt"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/nonexistent.txt: open: cannot open"))
    }

    @Test func thresholdsAndFiltersFromTheCommandLine() throws {
        let example = Self.repository.appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let strict = try Self.hvtax(["report", example, "--format", "json", "--tax-warning", "1%", "--tax-critical", "2%",
                                     "--vm", "1100", "--since", "100ms", "--until", "200ms"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(strict.stdout.utf8)) as? [String: Any])
        let host = try #require(report["host"] as? [String: Any])
        #expect((host["tax"] as? [String: Any])?["level"] as? String == "critical")
        #expect(host["duration"] as? Int == 100_000_000)
        #expect((report["vms"] as? [[String: Any]])?.map { $0["pid"] as? Int } == [1100])
        let bad = try Self.hvtax(["report", example, "--tax-warning", "20%", "--tax-critical", "10%"])
        #expect(bad.status != 0)
        let backwards = try Self.hvtax(["report", example, "--since", "2s", "--until", "1s"])
        #expect(backwards.status != 0 && backwards.stderr.contains("--until must be later than --since"))
        #expect(backwards.stdout.isEmpty, "no report of an empty window")
    }

    /// A duration past UInt64 nanoseconds once trapped in the conversion (the process died of SIGILL).
    @Test func durationsTooLongAreRefusedNotACrash() throws {
        let example = Self.repository.appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let since = try Self.hvtax(["report", example, "--since", "1e30s"])
        #expect(since.status == 64, "a usage error: \(since.stderr)")
        #expect(since.stderr.contains("1e30s"))
        let interval = try Self.hvtax(["snapshot", "--interval", "infs", "--count", "1"])
        #expect(interval.status == 64, "a usage error: \(interval.stderr)")
        let record = try Self.hvtax(["record", "--duration", "0s", "-o", "/dev/null"])
        #expect(record.status == 64)
        #expect(record.stderr.contains("--duration 0s: expected a time above zero"))
    }

    /// `--handler-scale 1e30` trapped converting the scaled times (SIGILL), and `--vms 0` or
    /// `--loss nan` wrote an empty or meaningless trace with status 0.
    @Test(arguments: [(["--handler-scale", "1e30"], "--handler-scale must be from 0 to 1000"),
                      (["--vms", "0"], "--vms must be at least 1"),
                      (["--vcpus-per-vm", "9223372036854775807"], "more than 8192 vCPUs"),
                      (["--loss", "nan"], "--loss is a probability from 0 to 1"),
                      (["--loss", "1.5"], "--loss is a probability from 0 to 1")])
    func synthRefusesWhatItCannotGenerate(_ arguments: [String], _ message: String) throws {
        let result = try Self.hvtax(["synth", "-o", "/dev/null"] + arguments)
        #expect(result.status == 64, "a usage error: \(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    /// Numbers no run can use: a loop of 2^64 cycles trapped computing the probe's watchdog (SIGILL);
    /// a 0 Hz counter and a NaN tolerance passed as if they meant something.
    @Test(arguments: [(["probe", "--min-loop-cycles", "18446744073709551615"], "--min-loop-cycles can be at most 1099511627776"),
                      (["report", "examples/three-vms.ftrace.txt.gz", "--counter-hz", "0"], "--counter-hz must be above 0"),
                      (["compare", "a.json", "b.json", "--counter-hz", "0"], "--counter-hz must be above 0"),
                      (["validate", "--tolerance", "nan"], "--tolerance is in percentage points, from 0 to 100"),
                      (["validate", "--tolerance", "1000"], "--tolerance is in percentage points, from 0 to 100")])
    func numbersNoRunCanUseAreUsageErrors(_ arguments: [String], _ message: String) throws {
        let result = try Self.hvtax(arguments)
        #expect(result.status == 64, "a usage error: \(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    /// Help printed `(default: DurationArgument(nanoseconds: 5000000000))` for duration options.
    @Test(arguments: [("snmp-pass", "(default: 5s)"), ("snapshot", "(default: 1s)"), ("top", "(default: 1s)")])
    func helpShowsDurationDefaultsAsWords(_ command: String, _ words: String) throws {
        let help = try Self.hvtax(["help", command])
        #expect(help.status == 0)
        // Help wraps at 80 columns, sometimes inside the parentheses.
        let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains(words), "\(help.stdout)")
        #expect(!help.stdout.contains("DurationArgument"))
    }

    /// A snapshot whose host CPU figure was damaged to 1e300 trapped the comparison's decimal
    /// formatter (its whole part went through UInt64); the figure is shown as what it is.
    @Test func compareShowsAnAbsurdFigureInsteadOfTrapping() throws {
        let fixture = Self.repository.appendingPathComponent("Tests/HVTaxHostTests/Fixtures/intel-vmx-host").path
        let snapshot = try Self.hvtax(["snapshot", "--root", fixture, "--count", "2", "--interval", "100ms", "--format", "json"])
        try #require(snapshot.status == 0, "\(snapshot.stderr)")
        let range = try #require(snapshot.stdout.range(of: "\"system\":0"))
        let damaged = snapshot.stdout.replacingCharacters(in: range, with: "\"system\":1e300")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-absurd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = directory.appendingPathComponent("a.json"), b = directory.appendingPathComponent("b.json")
        try damaged.write(to: a, atomically: true, encoding: .utf8)
        try snapshot.stdout.write(to: b, atomically: true, encoding: .utf8)
        for format in ["text", "json"] {
            let compare = try Self.hvtax(["compare", a.path, b.path, "--format", format])
            #expect(compare.status == 0, "\(compare.stderr)")
            #expect(compare.stdout.contains("e+"), "the 1e300 shown: \(compare.stdout)")
        }
    }

    /// A report cut short said only "not JSON, nor JSON Lines" (and printed the usage text).
    @Test func compareNamesWhereADamagedReportBreaks() throws {
        let example = Self.repository.appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let report = try Self.hvtax(["report", example, "--format", "json"])
        try #require(report.status == 0)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-cut-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let whole = Data(report.stdout.utf8), cut = whole.prefix(5_000)
        let lines = cut.count { $0 == 0x0a } + 1
        let a = directory.appendingPathComponent("cut.json"), b = directory.appendingPathComponent("whole.json")
        try cut.write(to: a)
        try whole.write(to: b)
        let compare = try Self.hvtax(["compare", a.path, b.path])
        #expect(compare.status == 1)
        #expect(compare.stderr.contains("cut.json: not an hvtax report, probe result or snapshot: byte 5000 (line \(lines), column "),
                "\(compare.stderr)")
        #expect(!compare.stderr.contains("Usage:"), "a damaged file is no usage mistake")
    }

    @Test func aDirectoryThatIsNoTraceSaysSo() throws {
        let result = try Self.hvtax(["report", Self.repository.appendingPathComponent("docs").path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("docs: directory: no CTF trace in it"))
    }

    static let tracefsInstances = "/sys/kernel/tracing/instances"

    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: tracefsInstances),
                   "needs root and tracefs mounted at /sys/kernel/tracing"))
    func doctorFixRemovesALeftoverInstance() throws {
        // A pid above pid_max's default cannot be running: the instance of a killed run.
        let leftover = Self.tracefsInstances + "/hvtax-4999999"
        defer { rmdir(leftover) }
        // Every `hvtax record` (and recording test) that starts while this test runs removes stale
        // instances too, so another suite may take this one before `doctor --fix` does: then it is
        // gone without --fix having removed it, and the test tries again.
        var takenByAnotherRun = 0
        for _ in 0..<5 {
            _ = mkdir(leftover, 0o755)
            let before = try Self.hvtax(["doctor", "--format", "json"])
            let fixed = try Self.hvtax(["doctor", "--fix", "--format", "json"])
            let listed = before.stdout.contains("hvtax-4999999")
            let removed = fixed.stderr.contains("removed \(leftover) (pid 4999999 is gone)")
            if !removed && !FileManager.default.fileExists(atPath: leftover) {
                takenByAnotherRun += 1
                continue
            }
            #expect(listed, "doctor lists the leftover: \(before.stdout)")
            #expect(removed, "doctor --fix says what it removed: \(fixed.stderr)")
            #expect(!FileManager.default.fileExists(atPath: leftover))
            #expect(!fixed.stdout.contains("hvtax-4999999"))
            #expect((try? JSONSerialization.jsonObject(with: Data(fixed.stdout.utf8))) != nil, "stdout stays one JSON document")
            return
        }
        Issue.record("the leftover instance was removed by other runs before doctor saw it, \(takenByAnotherRun) times in a row")
    }

    @Test func doctorFixRefusesAFixtureRoot() throws {
        let result = try Self.hvtax(["doctor", "--fix", "--root", "/tmp"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--fix changes the live host only"))
    }
}
