import Foundation
import Testing

/// Findings and throttling as a user sees them from the commands.
struct AdviceCommandTests {
    @Test func reportJSONCarriesTheFindings() throws {
        let example = CommandLineTests.repository.appendingPathComponent("examples/three-vms.ftrace.txt.gz").path
        let json = try CommandLineTests.hvtax(["report", example, "--format", "json"])
        #expect(json.status == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let advice = try #require(report["advice"] as? [String: Any])
        let findings = try #require(advice["findings"] as? [[String: Any]])
        #expect(!findings.isEmpty)
        let costs = findings.compactMap { $0["costRatio"] as? Double }
        #expect(costs == costs.sorted(by: >))
        #expect(findings.allSatisfy { ($0["threshold"] as? [String: Any])?["limit"] is Double })
    }

    /// A live host tree whose CPUs are capped below their maximum frequency: the snapshot says the
    /// host throttled during the interval and the advice says the times are inflated.
    @Test func snapshotOfAThrottledHostSaysTimesAreInflated() throws {
        let fixture = CommandLineTests.repository.appendingPathComponent("Tests/HVTaxLiveTests/Fixtures/live-libvirt-v2/t0")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-throttled-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.copyItem(at: fixture, to: root)
        for cpu in 0..<2 {
            let dir = root.appendingPathComponent("sys/devices/system/cpu/cpu\(cpu)/cpufreq")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try "1200000\n".write(to: dir.appendingPathComponent("scaling_cur_freq"), atomically: true, encoding: .utf8)
            try "3000000\n".write(to: dir.appendingPathComponent("cpuinfo_max_freq"), atomically: true, encoding: .utf8)
            try "1200000\n".write(to: dir.appendingPathComponent("scaling_max_freq"), atomically: true, encoding: .utf8)
        }
        let json = try CommandLineTests.hvtax(["snapshot", "--root", root.path, "--format", "json", "--interval", "50ms"])
        #expect(json.status == 0, "\(json.stderr)")
        let snapshot = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let throttling = try #require(snapshot["throttling"] as? [String: Any])
        #expect(throttling["state"] as? String == "throttled")
        #expect(throttling["cappedCPUs"] as? [Int] == [0, 1])
        let advice = try #require(snapshot["advice"] as? [String: Any])
        let rules = (advice["findings"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }
        #expect(rules.contains("host-throttled"))
        #expect(rules.contains("host-clocked-down"))
        let notes = advice["notes"] as? [String] ?? []
        #expect(notes.contains { $0.contains("exit and guest times are inflated by it") })

        let text = try CommandLineTests.hvtax(["snapshot", "--root", root.path, "--interval", "50ms", "--color", "never"])
        #expect(text.stdout.contains("throttling: throttled:"))
        #expect(text.stdout.contains("host: The host throttled during the measurement: times are inflated"))
    }

    /// A --vm that selected nothing gave an empty table saying "no VMs found" (snapshot) or an
    /// empty validation (validate): a typo read as a host without VMs.
    @Test func aVMFilterThatSelectsNothingNamesTheVMsThereAre() throws {
        let fixture = CommandLineTests.repository.appendingPathComponent("Tests/HVTaxLiveTests/Fixtures/live-libvirt-v2/t0").path
        let text = try CommandLineTests.hvtax(["snapshot", "--root", fixture, "--interval", "50ms", "--color", "never",
                                               "--vm", "web1", "--vm", "4200"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("finding (filter-matches-nothing): --vm web1 matches no VM on this host; "
            + "its VMs are web01 (pid 4100), db,02 (pid 4200)"), "\(text.stdout)")
        #expect(!text.stdout.contains("--vm 4200 matches"), "4200 is db,02's pid")
        #expect(text.stdout.contains("db,02") && !text.stdout.contains("no VMs found"))
        let none = try CommandLineTests.hvtax(["snapshot", "--root", fixture, "--interval", "50ms", "--vm", "web1", "--format", "json"])
        let snapshot = try #require(try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [String: Any])
        #expect((snapshot["vms"] as? [Any])?.isEmpty == true)
        #expect((snapshot["findings"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["filter-matches-nothing"])

        let validate = try CommandLineTests.hvtax(["validate", "--root", fixture, "--interval", "100ms", "--vm", "web1"])
        #expect(validate.status == 1 && !validate.stderr.contains("Usage:"), "the host's state, no usage mistake")
        #expect(validate.stderr.contains("--vm web1 matches no VM on this host; its VMs are web01 (pid 4100), db,02 (pid 4200)"),
                "\(validate.stderr)")
        let selected = try CommandLineTests.hvtax(["validate", "--root", fixture, "--interval", "100ms", "--vm", "web01", "--format", "json"])
        #expect(selected.status == 0, "\(selected.stderr)")
    }
}
