import Foundation
import Testing

/// `hvtax report --html/--perfetto` and `hvtax compare` as a user runs them.
struct PicturesCommandTests {
    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-cli-\(UUID().uuidString)-\(name)").path
    }

    @Test func reportWritesHTMLAndPerfettoBesideTheText() throws {
        let example = CommandLineTests.repository.appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let html = Self.temporary("r.html"), timeline = Self.temporary("r.json")
        defer {
            try? FileManager.default.removeItem(atPath: html)
            try? FileManager.default.removeItem(atPath: timeline)
        }
        let result = try CommandLineTests.hvtax(["report", example, "--html", html, "--perfetto", timeline, "--time-bucket", "5ms"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Host  3 VMs, 6 vCPUs"))
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("id=\"chart-over-time\""))
        #expect(page.contains("bucket 5.00 ms") || page.contains("bucket 10.00 ms") || page.contains("bucket 20.00 ms"))
        let trace = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: timeline))) as? [String: Any])
        let events = try #require(trace["traceEvents"] as? [[String: Any]])
        #expect(events.contains { $0["name"] as? String == "HLT" && ($0["args"] as? [String: String])?["state"] == "halted" })
        #expect(events.filter { $0["name"] as? String == "process_name" }.count == 3)
    }

    @Test func compareReadsAReportAndATrace() throws {
        let example = CommandLineTests.repository.appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let json = Self.temporary("a.json"), html = Self.temporary("c.html")
        defer {
            try? FileManager.default.removeItem(atPath: json)
            try? FileManager.default.removeItem(atPath: html)
        }
        let report = try CommandLineTests.hvtax(["report", example, "--format", "json"])
        try report.stdout.write(toFile: json, atomically: true, encoding: .utf8)
        // The same run as a report and as a trace: nothing differs, nothing is significant.
        let text = try CommandLineTests.hvtax(["compare", json, example, "--label-a", "saved", "--html", html])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("A saved"))
        #expect(!text.stdout.contains("B slower") && !text.stdout.contains("B faster"))
        #expect(try String(contentsOfFile: html, encoding: .utf8).contains("hvtax compare"))
        let out = try CommandLineTests.hvtax(["compare", json, example, "--format", "json"])
        let comparison = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        #expect(comparison["schema"] as? String == "hvtax.trace-comparison/1")

        let bad = try CommandLineTests.hvtax(["compare", "/etc/passwd", example])
        #expect(bad.status != 0)
        let notReport = Self.temporary("x.json")
        defer { try? FileManager.default.removeItem(atPath: notReport) }
        try #"{"schema": "something/1"}"#.write(toFile: notReport, atomically: true, encoding: .utf8)
        let refused = try CommandLineTests.hvtax(["compare", notReport, example])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("not an hvtax report"))
    }
}
