import Foundation
import HVTaxTestSupport
import Testing
import HVTaxEvents
import HVTaxMetrics
import HVTaxModel
import HVTaxServe
import HVTaxSynth
import HVTaxTrace
import HVTaxTracefs

/// The tracing collector's decoding -> analysis -> histogram path against a synthesized trace whose
/// truth knows every exit latency, and the collector for real on this machine's tracefs.
@Suite("hvtax serve tracing collector", .scratchDirectory)
struct TracingCollectorTests {
    /// A synthesized trace as the collector sees it: trace.dat chunks (one per "interval"), cut at
    /// event boundaries that fall inside exits, so the running analysis must carry open exits over.
    static func synthesizedChunks(chunks: Int) throws -> (chunks: [[UInt8]], truth: GroundTruth) {
        var configuration = TraceSynthesizer.Configuration()
        configuration.events = 40_000
        configuration.vms = 2
        configuration.vcpusPerVM = 2
        configuration.keepLatencies = true
        var text: [UInt8] = []
        let truth = TraceSynthesizer(configuration).generate { text.append(contentsOf: $0) }
        let directory = try ScratchDirectory.folder("synth")
        try Data(text).write(to: URL(fileURLWithPath: directory + "/trace.txt"))
        let symbols = SymbolTable()
        let stream = try TraceInputs.open(directory + "/trace.txt", symbols: symbols)
        var events: [TraceEvent] = []
        while let event = try stream.next() { events.append(event) }
        let size = (events.count + chunks - 1) / chunks
        var out: [[UInt8]] = []
        for start in stride(from: 0, to: events.count, by: size) {
            let encoder = TraceDatEncoder(symbols: symbols)
            for event in events[start..<min(start + size, events.count)] { try encoder.add(event) }
            let output = TraceDatOutput()
            try encoder.finish(to: output)
            #expect(encoder.skippedOther == 0 && encoder.skippedUnknownReason == 0)
            out.append(output.bytes)
        }
        return (out, truth)
    }

    @Test("the served histogram and exits by reason equal the synthesized truth exactly, across interval chunks")
    func groundTruth() throws {
        let (chunks, truth) = try Self.synthesizedChunks(chunks: 5)
        #expect(chunks.count == 5)
        let consumer = TraceExitConsumer()
        for (index, chunk) in chunks.enumerated() { try consumer.consume(traceDat: chunk, name: "chunk \(index)") }
        let pids = Set(truth.vcpus.map(\.vmPid))
        let labels = Dictionary(uniqueKeysWithValues: pids.map { ($0, "vm-\($0)") })
        let (families, _) = consumer.families(vmLabels: labels, liveExitLabels: [])
        let durations = try #require(families[MetricCatalogue.exitDuration.name])
        let exits = try #require(families[MetricCatalogue.vmExits.name])
        #expect(durations.samples.count == pids.count)
        for pid in pids {
            let vcpus = truth.vcpus.filter { $0.vmPid == pid }
            let latencies = vcpus.flatMap { $0.reasons.values.flatMap(\.latencies) }
            let count = vcpus.reduce(0) { $0 + $1.reasons.values.reduce(0) { $0 + $1.latencyCount } }
            let sum = vcpus.reduce(0) { $0 + $1.reasons.values.reduce(0) { $0 + $1.latencySum } }
            #expect(UInt64(latencies.count) == count && count > 1000)
            // Power-of-two buckets: bucket i holds [2^i, 2^(i+1)) ns (0 and 1 in bucket 0), so its
            // le is 2^(i+1) ns; cumulative; up to the highest non-empty bucket.
            var perBucket = [UInt64](repeating: 0, count: 64)
            for latency in latencies { perBucket[latency <= 1 ? 0 : 63 - latency.leadingZeroBitCount] += 1 }
            let last = perBucket.lastIndex { $0 > 0 }!
            var cumulative: UInt64 = 0
            let expected = (0...last).map { i -> (upperBound: Double, cumulativeCount: UInt64) in
                cumulative += perBucket[i]
                return (Double(UInt64(1) << UInt64(i + 1)) / 1e9, cumulative)
            }
            guard case .histogram(let buckets, let servedSum, let servedCount) = try #require(durations.value(["vm": "vm-\(pid)"])) else {
                Issue.record("vm-\(pid): not a histogram")
                continue
            }
            #expect(servedCount == count, "vm-\(pid)")
            #expect(buckets.count == expected.count)
            for (served, truth) in zip(buckets, expected) {
                #expect(served.upperBound == truth.upperBound && served.cumulativeCount == truth.cumulativeCount, "vm-\(pid) le=\(truth.upperBound)")
            }
            #expect(abs(servedSum - Double(sum) / 1e9) <= 1e-6 * servedSum, "vm-\(pid) sum")

            var byReason: [String: UInt64] = [:]
            for vcpu in vcpus { for (reason, r) in vcpu.reasons { byReason["kvm_exit:" + reason, default: 0] += r.count } }
            for (reason, n) in byReason {
                #expect(exits.value(["vm": "vm-\(pid)", "reason": reason])?.number == Double(n), "vm-\(pid) \(reason)")
            }
            #expect(exits.samples.filter { $0.labelValues[0] == "vm-\(pid)" }.count == byReason.count)
        }

        // A VM the live view already counts exits for is not counted twice.
        let (withLive, _) = consumer.families(vmLabels: labels, liveExitLabels: Set(labels.values))
        #expect(withLive[MetricCatalogue.vmExits.name]?.samples.isEmpty == true)

        // The exposition of those families passes promtool and shows the histogram's series.
        let text = PrometheusTextRenderer(format: .prometheusText).render(families.filter { !$0.samples.isEmpty })
        #expect(text.contains("hvtax_exit_duration_seconds_bucket{vm=\"vm-\(pids.min()!)\",le=\"+Inf\"}"))
        #expect(text.contains("# TYPE hvtax_exit_duration_seconds histogram"))
        if let promtool = ServeTestSupport.executable("promtool") {
            let lint = try ServeTestSupport.run(promtool, ["check", "metrics"], stdin: text)
            #expect(lint.status == 0 && lint.output.isEmpty, "promtool: \(lint.output)")
        } else {
            print("skipped promtool check: promtool is not installed (apt-get install prometheus)")
        }
    }

    @Test("a chunk that is not a trace.dat is an error naming it")
    func badChunk() throws {
        let consumer = TraceExitConsumer()
        #expect(throws: TraceReadError.self) { try consumer.consume(traceDat: Array("not a trace".utf8), name: "interval 7") }
        do {
            try consumer.consume(traceDat: Array("not a trace".utf8), name: "interval 7")
        } catch {
            #expect("\(error)".contains("interval 7"))
        }
    }
}

/// `hvtax serve --trace` on this machine's tracefs while hvtax's own KVM guest (`hvtax workload`,
/// port I/O exits that KVM hands to userspace) runs.
@Suite("hvtax serve --trace (real tracefs, real KVM guest)", .serialized)
struct TracingServeTests {
    static func unavailable() -> String? {
        if getuid() != 0 { return "not root" }
        if !FileManager.default.fileExists(atPath: "/dev/kvm") { return "no /dev/kvm" }
        if (try? Tracefs.locate()) == nil { return "tracefs is not mounted and cannot be mounted" }
        return nil
    }

    static func instances(of pid: Int32) -> [String] {
        guard let tracefs = try? Tracefs.locate() else { return [] }
        return Tracefs.directoryEntries(tracefs.path("instances")).filter { $0 == "hvtax-\(pid)" || $0.hasPrefix("hvtax-\(pid)-") }
    }

    static func metric(_ body: String, _ series: String) -> Double? {
        body.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    @Test("the instance lives while serving and is removed on SIGTERM; the status tells what the kernel fired")
    func realTracing() throws {
        if let reason = Self.unavailable() {
            print("skipped: \(reason)")
            return
        }
        let name = "servetrace-\(getpid())"
        let workload = Process()
        workload.executableURL = URL(fileURLWithPath: ServeTestSupport.hvtax)
        workload.arguments = ["workload", "--vcpus", "1", "--duty", "50%", "--period", "50ms", "--duration", "60s",
                              "--exits", "io:2000/s", "--name", name]
        workload.standardOutput = FileHandle.nullDevice
        workload.standardError = FileHandle.nullDevice
        try workload.run()
        defer {
            if workload.isRunning { kill(workload.processIdentifier, SIGKILL) }
            workload.waitUntilExit()
        }
        let serve = try ServeProcess(arguments: ["--trace", "--trace-events", "default", "--interval", "500ms"])
        defer { _ = serve.stop() }
        let instance = "hvtax-\(serve.pid)"
        #expect(Self.instances(of: serve.pid) == [instance], "\(serve.text)")

        // Wait for this workload's OUTs to its port 0xf0, each emulated by the workload (the VMM),
        // to show as its accesses. The wait is on this VM's own series: the host-wide count of
        // kvm_userspace_exit also counts the guests of tests running beside this one (a recording
        // test's workload reached it alone while this VM had 900 OUTs).
        var body = ""
        let outsSeries = #"hvtax_guest_accesses_total{vm="\#(name)",access="0xf0:POUT",device="",path="vmm"}"#
        let seen = try ServeTestSupport.waitFor(30) {
            body = try ServeTestSupport.curl(["http://\(serve.address)/metrics"]).body
            return (Self.metric(body, outsSeries) ?? 0) >= 1000
        }
        #expect(seen, "the workload's OUTs were not decoded: \(body.split(separator: "\n").filter { $0.contains("trace") || $0.contains("guest_accesses") })\n\(serve.text)")
        #expect((Self.metric(body, #"hvtax_trace_events_total{event="kvm_userspace_exit"}"#) ?? 0) >= 1000)
        let collectors = try ServeTestSupport.curl(["http://\(serve.address)/api/v1/collectors"]).body
        let kvmExits = Self.metric(body, #"hvtax_trace_events_total{event="kvm_exit"}"#) ?? 0
        if kvmExits == 0 {
            // This machine: nested paravirtual KVM fires kvm_userspace_exit, never kvm_exit.
            #expect(Self.metric(body, #"hvtax_collector_up{collector="tracing",needs_root="true"}"#) == 0)
            #expect(collectors.contains("enabled, no kvm_exit events seen (the kernel's KVM does not fire kvm_exit here"), "\(collectors)")
            #expect(!body.contains("hvtax_exit_duration_seconds_bucket"), "a histogram with no kvm_exit behind it")
        } else {
            print("this kernel fires kvm_exit: \(kvmExits) decoded")
            #expect(Self.metric(body, #"hvtax_collector_up{collector="tracing",needs_root="true"}"#) == 1)
            #expect(body.contains("hvtax_exit_duration_seconds_bucket{vm=\"\(name)\""), "\(body)")
        }
        if let promtool = ServeTestSupport.executable("promtool") {
            let lint = try ServeTestSupport.run(promtool, ["check", "metrics"], stdin: body)
            #expect(lint.status == 0 && lint.output.isEmpty, "promtool: \(lint.output)")
        }

        #expect(serve.stop() == 0)
        #expect(Self.instances(of: serve.pid).isEmpty, "instance left after SIGTERM: \(serve.text)")
        #expect(serve.text.contains("tracing stopped, "), "\(serve.text)")
    }
}
