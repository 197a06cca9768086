import Foundation
import HVTaxMetrics
import HVTaxModel
import Testing

@Suite("Prometheus text and OpenMetrics")
struct ExpositionTests {
    static let family = MetricFamily(
        MetricDescriptor("hvtax_test_seconds", .counter, unit: "seconds", labels: ["vm"], help: "A \"test\" \\ counter\nof lines."),
        [MetricSample(["a\"b\\c\nd"], 1.5), MetricSample(["plain"], 3)])

    @Test("0.0.4: _total in HELP, TYPE and samples; labels and HELP escaped; integers without a fraction")
    func text() {
        let text = PrometheusTextRenderer(format: .prometheusText).render([Self.family])
        #expect(text == """
            # HELP hvtax_test_seconds_total A "test" \\\\ counter\\nof lines.
            # TYPE hvtax_test_seconds_total counter
            hvtax_test_seconds_total{vm="a\\"b\\\\c\\nd"} 1.5
            hvtax_test_seconds_total{vm="plain"} 3

            """)
    }

    @Test("OpenMetrics: family name without _total, UNIT, quotes escaped in HELP, # EOF")
    func openMetrics() {
        let text = PrometheusTextRenderer(format: .openMetrics).render([Self.family])
        #expect(text == """
            # HELP hvtax_test_seconds A \\"test\\" \\\\ counter\\nof lines.
            # TYPE hvtax_test_seconds counter
            # UNIT hvtax_test_seconds seconds
            hvtax_test_seconds_total{vm="a\\"b\\\\c\\nd"} 1.5
            hvtax_test_seconds_total{vm="plain"} 3
            # EOF

            """)
    }

    @Test("info metrics are gauges named _info in 0.0.4, type info in OpenMetrics")
    func info() {
        let family = MetricFamily(MetricCatalogue.vm, [MetricSample(["w", "1", "qemu", ""], 1)])
        #expect(PrometheusTextRenderer(format: .prometheusText).render([family]).contains("# TYPE hvtax_vm_info gauge\nhvtax_vm_info{vm=\"w\",pid=\"1\",kind=\"qemu\",uuid=\"\"} 1\n"))
        #expect(PrometheusTextRenderer(format: .openMetrics).render([family]).contains("# TYPE hvtax_vm info\nhvtax_vm_info{"))
    }

    @Test("trace exit latencies -> cumulative power-of-two histogram in seconds")
    func histogram() throws {
        // 2 exits in [1,2) ns... bucket i is [2^i, 2^(i+1)): 3 in bucket 10 (1024-2047 ns), 1 in bucket 12.
        var buckets = [UInt64](repeating: 0, count: 13)
        buckets[10] = 3
        buckets[12] = 1
        let latency = LatencySummary(count: 4, mean: 2000, log2Buckets: buckets)
        let value = try #require(TraceMetrics.histogram(latency, ticksPerSecond: 1e9))
        guard case .histogram(let b, let sum, let count) = value else { Issue.record("not a histogram"); return }
        #expect(count == 4 && sum == 8e-6)
        #expect(b[10].upperBound == 2048e-9 && b[10].cumulativeCount == 3)
        #expect(b[11].cumulativeCount == 3 && b[12].cumulativeCount == 4 && b[12].upperBound == 8192e-9)
        let family = MetricFamily(MetricCatalogue.exitDuration, [MetricSample(["w"], value)])
        let text = PrometheusTextRenderer(format: .prometheusText).render([family])
        #expect(text.contains("hvtax_exit_duration_seconds_bucket{vm=\"w\",le=\"+Inf\"} 4\nhvtax_exit_duration_seconds_sum{vm=\"w\"} 8e-06\nhvtax_exit_duration_seconds_count{vm=\"w\"} 4\n"))
    }

    @Test(
        "content negotiation on Accept",
        arguments: [
            (nil, ExpositionFormat.prometheusText),
            ("*/*", .prometheusText),
            ("text/plain", .prometheusText),
            // What Prometheus 2.42 sends.
            ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", .openMetrics),
            ("application/openmetrics-text; version=1.0.0", .openMetrics),
            ("application/openmetrics-text;version=0.0.1", .prometheusText),
            ("text/plain;q=1, application/openmetrics-text;q=0.5", .prometheusText),
            ("application/json", .prometheusText),
        ] as [(String?, ExpositionFormat)])
    func negotiation(accept: String?, expected: ExpositionFormat) {
        #expect(ExpositionFormat.negotiate(accept: accept) == expected)
    }

    /// The real parser: Debian's promtool (package prometheus) lints what a fixture host exports.
    @Test("promtool check metrics accepts the live view's exposition", arguments: ["live-libvirt-v2", "live-firecracker-v1"])
    func promtool(fixture: String) throws {
        var live = LiveMetrics()
        let text = PrometheusTextRenderer(format: .prometheusText).render(live.add(try MetricsFixtures.snapshot(fixture)))
        guard let result = try MetricsFixtures.run("promtool", ["check", "metrics"], stdin: text) else {
            print("skipped: promtool not installed (Debian package prometheus)")
            return
        }
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.isEmpty, "lint findings: \(result.output)")
    }
}
