import Foundation
import HVTaxAnalysis
import HVTaxModel
import HVTaxPipeline
import HVTaxRender
import Testing

/// The HTML page: self-contained (no scripts, no network), every section present, bounded in
/// size, and rendered by a real browser (headless Chromium) with its charts visible.
struct HTMLReportTests {
    static func page(seed: UInt64 = 2, vms: Int = 2, vcpus: Int = 4, events: Int = 30_000) throws -> (report: TraceReport, html: String) {
        let (trace, _) = try Support.synthesize(seed: seed, vms: vms, vcpus: vcpus, events: events, loss: 0.01)
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let report = try TraceReportPipeline.run(paths: [trace], sinks: [TimeSeriesSink()])
        return (report, HTMLReportRenderer().render(report))
    }

    @Test func isSelfContainedWithEverySection() throws {
        let (report, html) = try Self.page()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        for id in ["split", "chart-split-vms", "chart-split-vcpus", "reasons", "chart-pareto", "latency", "chart-cdf",
                   "chart-histograms", "over-time", "chart-over-time", "paths", "chart-paths", "quality"] {
            #expect(html.contains("id=\"\(id)\""), "section \(id)")
        }
        // Nothing to fetch: no scripts, no external resources; the only URL is SVG's namespace name.
        #expect(!html.contains("<script"))
        #expect(!html.contains("src="))
        #expect(!html.contains("href="))
        #expect(!html.contains("@import") && !html.contains("url("))
        #expect(html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").range(of: "http") == nil)
        #expect(html.components(separatedBy: "<svg").count == html.components(separatedBy: "</svg>").count)
        for reason in report.host.exits.byReason.prefix(5) { #expect(html.contains(">\(reason.reason)<")) }
        #expect(html.contains("Trace quality"))
    }

    @Test func escapesNames() throws {
        var (report, _) = try Self.page(events: 5_000)
        report.vms[0].name = "<b>&\"web\"</b>"
        let html = HTMLReportRenderer().render(report)
        #expect(!html.contains("<b>&"))
        #expect(html.contains("&lt;b&gt;&amp;&quot;web&quot;&lt;/b&gt;"))
    }

    @Test func sizeIsBoundedByCapsNotByTheTrace() throws {
        // 40 VMs x 4 vCPUs: the vCPU chart stops at its cap, and says so.
        let (report, html) = try Self.page(seed: 7, vms: 40, vcpus: 4, events: 40_000)
        #expect(report.host.vcpuCount == 160)
        #expect(html.contains("first 64 of 160 vCPUs"))
        #expect(html.utf8.count < 1_000_000)
    }

    /// Renders the page with headless Chromium, then checks the screenshot: the charts' colours are
    /// on it, in several separate bands (the charts, top to bottom), and the console had no errors.
    @Test func rendersInHeadlessChromium() throws {
        guard let chromium = Support.which("chromium") ?? Support.which("chromium-browser") else {
            print("skipped: chromium is not installed (apt-get install chromium)")
            return
        }
        guard let python = Support.python(with: ["zlib", "struct"]) else {
            print("skipped: python3 is not installed (the PNG check uses it)")
            return
        }
        let (_, html) = try Self.page()
        let file = Support.temporary("report.html"), png = Support.temporary("report.png")
        defer {
            try? FileManager.default.removeItem(atPath: file)
            try? FileManager.default.removeItem(atPath: png)
        }
        try html.write(toFile: file, atomically: true, encoding: .utf8)
        let profile = Support.temporary("chromium-profile")
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let browser = try Support.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                 "--user-data-dir=\(profile)", "--enable-logging=stderr", "--v=0",
                                                 "--screenshot=\(png)", "--window-size=1100,4200", "file://\(file)"])
        #expect(browser.status == 0, "\(browser.stderr.suffix(2000))")
        let console = browser.stderr.split(separator: "\n").filter { $0.contains("CONSOLE") || $0.contains("Uncaught") }
        #expect(console.isEmpty, "console: \(console)")

        // guest green, the Pareto blue, halted grey, hypervisor red, vmm orange.
        let colours = ["#43a047", "#1e88e5", "#b0bec5", "#e53935", "#fb8c00"]
        let check = try Support.run(python, [Support.scripts.appendingPathComponent("check_png.py").path, png] + colours)
        #expect(check.status == 0, "\(check.stderr)")
        struct Summary: Decodable {
            var width: Int
            var height: Int
            var nonWhite: Double
            var colours: [String: Int]
            var bands: [[Int]]
        }
        let summary = try JSONDecoder().decode(Summary.self, from: Data(check.stdout.utf8))
        #expect(summary.width == 1100 && summary.height == 4200)
        for colour in colours { #expect(summary.colours[colour, default: 0] > 2_000, "colour \(colour) drawn") }
        // Split bars (2 charts), Pareto, CDF, histograms, tax over time and paths lie in separate bands.
        #expect(summary.bands.count >= 8, "\(summary.bands)")
        #expect((summary.bands.last?[1] ?? 0) > 2_500, "charts reach down the page")
        #expect(summary.nonWhite > 0.05 && summary.nonWhite < 0.6)
    }
}
