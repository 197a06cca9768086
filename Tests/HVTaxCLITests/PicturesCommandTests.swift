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

    /// Probe results and snapshot runs: the kind comes from the JSON's schema, and kinds do not mix.
    @Test func compareTellsProbeResultsAndSnapshotsApart() throws {
        let example = CommandLineTests.repository.appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let snapshots = Self.temporary("s.jsonl"), report = Self.temporary("r.json")
        defer { for path in [snapshots, report] { try? FileManager.default.removeItem(atPath: path) } }
        let snapshot = try CommandLineTests.hvtax(["snapshot", "--format", "json", "--count", "2", "--interval", "100ms"])
        #expect(snapshot.status == 0, "\(snapshot.stderr)")
        try snapshot.stdout.write(toFile: snapshots, atomically: true, encoding: .utf8)
        let same = try CommandLineTests.hvtax(["compare", snapshots, snapshots, "--format", "json"])
        #expect(same.status == 0, "\(same.stderr)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(same.stdout.utf8)) as? [String: Any])
        #expect(parsed["schema"] as? String == "hvtax.snapshot-comparison/1")
        #expect((parsed["a"] as? [String: Any])?["intervals"] as? Int == 2)
        let text = try CommandLineTests.hvtax(["compare", snapshots, snapshots, "--color", "never"])
        #expect(text.stdout.contains("hvtax compare (snapshots)") && text.stdout.contains("no significance test"))

        try CommandLineTests.hvtax(["report", example, "--format", "json"]).stdout.write(toFile: report, atomically: true, encoding: .utf8)
        let mixed = try CommandLineTests.hvtax(["compare", report, snapshots])
        #expect(mixed.status != 0)
        #expect(mixed.stderr.contains("cannot compare a trace report"), "\(mixed.stderr)")

        guard FileManager.default.isReadableFile(atPath: "/dev/kvm") else {
            print("skipping the probe half: no readable /dev/kvm")
            return
        }
        let probes = [Self.temporary("p1.json"), Self.temporary("p2.json")]
        defer { for path in probes { try? FileManager.default.removeItem(atPath: path) } }
        for path in probes {
            let probe = try CommandLineTests.hvtax(["probe", "--samples", "100", "--format", "json"])
            #expect(probe.status == 0, "\(probe.stderr)")
            try probe.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let compared = try CommandLineTests.hvtax(["compare", probes[0], probes[1], "--format", "json"])
        #expect(compared.status == 0, "\(compared.stderr)")
        let probeComparison = try #require(try JSONSerialization.jsonObject(with: Data(compared.stdout.utf8)) as? [String: Any])
        #expect(probeComparison["schema"] as? String == "hvtax.probe-comparison/1")
        let kinds = (probeComparison["runs"] as? [[String: Any]])?.first?["kinds"] as? [[String: Any]] ?? []
        #expect(kinds.contains { $0["kind"] as? String == "cpuid" && ($0["figures"] as? [Any])?.count == 5 })
        let refused = try CommandLineTests.hvtax(["compare", probes[0], snapshots])
        #expect(refused.stderr.contains("cannot compare a probe result"), "\(refused.stderr)")
    }
}
