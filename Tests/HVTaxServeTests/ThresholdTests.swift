import Foundation
import HVTaxModel
import HVTaxServe
import Logging
import HVTaxTestSupport
import Testing

@Suite("thresholds with hysteresis, and actions", .scratchDirectory)
struct ThresholdTests {
    static func run(_ steals: [Double], configure: (inout ThresholdConfiguration) -> Void = { _ in }) -> [String] {
        var configuration = ThresholdConfiguration()
        configure(&configuration)
        var monitor = ThresholdMonitor(configuration: configuration)
        var out: [String] = []
        for (i, steal) in steals.enumerated() {
            var snapshot = HistoryFixtures.snapshot(steal: steal)
            snapshot.sequence = i + 1
            for e in monitor.evaluate(snapshot) where e.figure == .steal && e.scope == "vm" {
                out.append("\(i + 1):\(e.from.rawValue)->\(e.to.rawValue)")
            }
        }
        return out
    }

    @Test(
        "steal levels (warning 5%, critical 10%, hysteresis 20%, 3 intervals to raise or clear)",
        arguments: [
            // Three intervals above warning raise it on the third.
            ([0.06, 0.06, 0.06], ["3:ok->warning"]),
            // Two are not enough; a dip resets the count.
            ([0.06, 0.06, 0.01, 0.06, 0.06], []),
            // Straight to critical.
            ([0.2, 0.2, 0.2], ["3:ok->critical"]),
            // Hovering just under the threshold (above 4% = 5% x 0.8) does not clear.
            ([0.06, 0.06, 0.06, 0.045, 0.045, 0.045, 0.045], ["3:ok->warning"]),
            // Below 4% for three intervals clears.
            ([0.06, 0.06, 0.06, 0.03, 0.03, 0.03], ["3:ok->warning", "6:warning->ok"]),
            // Critical falls back to warning when between 4% and 8%.
            ([0.2, 0.2, 0.2, 0.07, 0.07, 0.07], ["3:ok->critical", "6:critical->warning"]),
        ] as [([Double], [String])])
    func hysteresis(steals: [Double], expected: [String]) {
        #expect(Self.run(steals) == expected)
    }

    @Test("raise_after 1 and no hysteresis: every crossing is an event")
    func noHysteresis() {
        let events = Self.run([0.06, 0.04, 0.06]) {
            $0.raiseAfter = 1
            $0.clearAfter = 1
            $0.hysteresis = 0
        }
        #expect(events == ["1:ok->warning", "2:warning->ok", "3:ok->warning"])
    }

    @Test("host scope and exit rates: levels for all VMs together; exits only when configured")
    func hostAndExits() {
        var configuration = ThresholdConfiguration()
        configuration.raiseAfter = 1
        configuration.exitsPerSecond = ThresholdPair(warning: 1000, critical: 5000)
        var monitor = ThresholdMonitor(configuration: configuration)
        // Guest code 99% of on-CPU: tax 1%, no tax event.
        let events = monitor.evaluate(HistoryFixtures.snapshot(steal: 0.12, guestShare: 0.99, exitsPerSecond: 2000))
        #expect(Set(events.map(\.key)) == ["vm/w/steal", "vm/w/exits_per_second", "host/steal", "host/exits_per_second"])
        let exits = events.first { $0.key == "vm/w/exits_per_second" }
        #expect(exits?.to == .warning && exits?.threshold == 1000 && exits?.clearBelow == 800)
        #expect(events.first { $0.key == "host/steal" }?.to == .critical)
        #expect(events.first { $0.key == "vm/w/steal" }?.evidence.vm?.name == "w")
        var plain = ThresholdMonitor(configuration: ThresholdConfiguration())
        #expect(plain.evaluate(HistoryFixtures.snapshot(steal: 0, guestShare: 0.99, exitsPerSecond: 1e9)).isEmpty, "exits are off by default")
        var taxed = ThresholdMonitor(configuration: configuration)
        let tax = taxed.evaluate(HistoryFixtures.snapshot(steal: 0, guestShare: 0.8)).first { $0.key == "vm/w/tax" }
        #expect(tax?.to == .critical && abs((tax?.value ?? 0) - 0.2) < 1e-9, "20% of on-CPU time outside guest code")
    }

    static func event(level: Level = .critical, vm: String = "w") -> ThresholdEvent {
        var monitor = ThresholdMonitor(configuration: {
            var c = ThresholdConfiguration()
            c.raiseAfter = 1
            return c
        }())
        return monitor.evaluate(HistoryFixtures.snapshot(steal: level == .critical ? 0.3 : 0.07, vm: vm))
            .first { $0.key == "vm/\(vm)/steal" }!
    }

    /// A folder of the test's own holding an executable script (its text given the folder) and a
    /// command action that runs it.
    static func scriptAction(_ label: String, _ text: (String) -> String) throws -> (dir: String, configuration: ActionConfiguration) {
        let dir = try ScratchDirectory.folder(label)
        let script = dir + "/action.sh"
        try text(dir).write(toFile: script, atomically: false, encoding: .utf8)
        chmod(script, 0o755)
        var configuration = ActionConfiguration()
        configuration.command = [script]
        return (dir, configuration)
    }

    @Test("a command gets the evidence JSON on stdin and HVTAX_* variables; the rate limit holds the second; dry run runs nothing")
    func command() async throws {
        let (dir, scripted) = try Self.scriptAction("action") { dir in
            """
            #!/bin/sh
            cat > "\(dir)/evidence-$HVTAX_VM.json"
            echo "$HVTAX_SCOPE $HVTAX_VM $HVTAX_FIGURE $HVTAX_LEVEL" >> "\(dir)/calls"
            """
        }
        var configuration = scripted
        let runner = ActionRunner(configuration: configuration, logger: Logger(label: "test"))
        await runner.handle(Self.event())
        await runner.handle(Self.event())
        await runner.handle(Self.event(vm: "other"))
        await runner.handle(Self.event(level: .warning, vm: "third"))
        let calls = try String(contentsOfFile: dir + "/calls", encoding: .utf8)
        #expect(calls == "vm w steal critical\nvm other steal critical\n", "second call for w rate-limited; warning is below on_level")
        let evidence = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/evidence-w.json"))) as? [String: Any]
        #expect(evidence?["schema"] as? String == "hvtax.threshold-event/1")
        #expect(evidence?["to"] as? String == "critical")
        #expect(((evidence?["evidence"] as? [String: Any])?["vm"] as? [String: Any])?["name"] as? String == "w")
        #expect(await runner.outcomes == ["ran": 2, "rate-limited": 1])

        configuration.dryRun = true
        let dry = ActionRunner(configuration: configuration, logger: Logger(label: "test"))
        await dry.handle(Self.event(vm: "dry"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/evidence-dry.json"))
        #expect(await dry.outcomes == ["dry-run": 1])
    }

    @Test("a script still open for writing (ETXTBSY) runs once it is closed; one never closed fails, counted")
    func busyScript() async throws {
        let (dir, configuration) = try Self.scriptAction("busy") { "#!/bin/sh\necho ran >> \"\($0)/calls\"\n" }
        let script = configuration.command![0]
        // Held open for writing, as by a process forked while the script was being written: exec
        // fails with ETXTBSY until the descriptor is closed, 100 ms later. Closed from a thread of
        // its own: under the whole suite's load a task could wait on the busy pool past the retries.
        let writer = open(script, O_WRONLY)
        #expect(writer >= 0)
        let closer = Thread {
            usleep(100_000)
            close(writer)
        }
        closer.start()
        let runner = ActionRunner(configuration: configuration, logger: Logger(label: "test"))
        await runner.handle(Self.event())
        #expect(await runner.outcomes == ["ran": 1])
        #expect(try String(contentsOfFile: dir + "/calls", encoding: .utf8) == "ran\n")

        let stuck = open(script, O_WRONLY)
        defer { close(stuck) }
        let failing = ActionRunner(configuration: configuration, logger: Logger(label: "test"))
        await failing.handle(Self.event(vm: "other"))
        #expect(await failing.outcomes == ["failed": 1])
        #expect(try String(contentsOfFile: dir + "/calls", encoding: .utf8) == "ran\n")
    }

    @Test("a command that exits without reading its stdin cannot end the service: SIGPIPE is ignored")
    func commandIgnoringStdin() async throws {
        let (_, configuration) = try Self.scriptAction("nostdin") { _ in "#!/bin/sh\nexec 0<&-\nexit 0\n" }
        let runner = ActionRunner(configuration: configuration, logger: Logger(label: "test"))
        var disposition = sigaction()
        sigaction(SIGPIPE, nil, &disposition)
        #expect(unsafeBitCast(disposition.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self))
        // Each write of the evidence races the command's exit; with SIGPIPE at its default, one that
        // lost the race ended this test process (it did, before the fix).
        for index in 0..<20 { await runner.handle(Self.event(vm: "quick\(index)")) }
        #expect(await runner.outcomes == ["ran": 20])
    }

    @Test("a webhook receives the evidence as a JSON POST")
    func webhook() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        var configuration = ActionConfiguration()
        configuration.webhook = .init(url: "http://127.0.0.1:\(receiver.port)/hook", headers: ["X-Token": "abc"])
        let runner = ActionRunner(configuration: configuration, logger: Logger(label: "test"))
        await runner.handle(Self.event())
        #expect(await runner.outcomes == ["ran": 1])
        let request = try #require(receiver.requests.first)
        #expect(request.hasPrefix("POST /hook HTTP/1.1"))
        #expect(request.lowercased().contains("x-token: abc"))
        #expect(request.lowercased().contains("content-type: application/json"))
        #expect(request.contains("\"schema\":\"hvtax.threshold-event\\/1\"") || request.contains("\"schema\":\"hvtax.threshold-event/1\""))
    }
}
