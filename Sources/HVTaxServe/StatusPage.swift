import Foundation
import HVTaxMetrics
import HVTaxModel
import HVTaxRender

/// `/`: what an operator opening the port in a browser wants to see at once: the VMs with their
/// tax and steal and levels, what is collected and what needs root, recent threshold events.
enum StatusPage {
    static func html(_ view: PublishedView?, events: [ThresholdEvent], historyRows: (raw: Int, minutes: Int)?,
                     configuration: ServeConfiguration) -> String {
        var out = """
            <!doctype html><html><head><meta charset="utf-8"><title>hvtax serve</title>
            <style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}
            td,th{padding:2px 10px;text-align:right}th{background:#eee}td:first-child,th:first-child{text-align:left}
            .warning{background:#fff3c4}.critical{background:#ffd0d0}</style></head><body>
            <h1>hvtax serve</h1>
            <p><a href="/metrics">/metrics</a> · <a href="/api/v1/snapshot">/api/v1/snapshot</a> · <a href="/api/v1/vms">/api/v1/vms</a>
             · <a href="/api/v1/thresholds">/api/v1/thresholds</a> · <a href="/api/v1/collectors">/api/v1/collectors</a>
             · <a href="/api/v1/history?since=1h">/api/v1/history</a></p>

            """
        guard let view else { return out + "<p>No interval sampled yet.</p></body></html>\n" }
        let s = view.snapshot
        let end = Date(timeIntervalSince1970: Double(s.endUnixNs) / 1e9)
        out += "<p>Interval #\(s.sequence) of \(Formatting.fixed(Double(s.intervalNs) / 1e9, 3)) s ending \(Formatting.html(end.formatted(.iso8601))); "
            + "\(Formatting.count(s.vms.count, "VM")), \(Formatting.count(s.vms.reduce(0) { $0 + $1.vcpus.count }, "vCPU")); sampler \(Formatting.fixed(Double(s.sampler.cpuNs) / 1e6, 2)) ms CPU "
            + "for \(s.sampler.filesRead) files. Root \(Formatting.html(s.root)).</p>\n"
        out += "<table><tr><th>VM</th><th>pid</th><th>kind</th><th>vCPUs</th><th>on-CPU</th><th>tax</th><th>steal</th><th>VMM overhead</th><th>exits/s</th></tr>\n"
        let levels = Dictionary(view.levels.map { ("\($0.vm ?? "")/\($0.figure.rawValue)", $0.level) }, uniquingKeysWith: { a, _ in a })
        for (vm, name) in zip(s.vms, LiveMetrics.vmLabels(s.vms)) {
            let tax = VCPUStateSplit.tax(of: vm, intervalNs: s.intervalNs).ratio
            func cell(_ ratio: Double?, _ figure: WatchedFigure) -> String {
                let level = levels["\(name)/\(figure.rawValue)"] ?? .ok
                return "<td class=\"\(level.rawValue)\">\(ratio.map { Formatting.fixed($0 * 100, 1) + "%" } ?? "-")</td>"
            }
            out += "<tr><td>\(Formatting.html(name))</td><td>\(vm.pid)</td><td>\(vm.kind.rawValue)</td><td>\(vm.vcpus.count)</td>"
                + "<td>\(Formatting.fixed(vm.vcpuOnCPU * 100, 1))%</td>\(cell(tax, .tax))\(cell(vm.steal.ratio, .steal))"
                + "<td>\(vm.vmmOverhead.ratio.map { Formatting.fixed($0 * 100, 1) + "%" } ?? "-")</td>"
                + "<td>\(vm.exitsPerSecond.map { Formatting.fixed($0, 0) } ?? "n/a")</td></tr>\n"
        }
        out += "</table>\n<h2>Collectors</h2><table><tr><th>collector</th><th>up</th><th>needs root</th><th>detail</th></tr>\n"
        for c in view.collectors {
            out += "<tr><td>\(c.name)</td><td>\(c.up ? "yes" : "no")</td><td>\(c.needsRoot ? "yes" : "no")</td><td style=\"text-align:left\">\(Formatting.html(c.detail))</td></tr>\n"
        }
        out += "</table>\n<h2>Threshold events</h2>\n"
        if events.isEmpty { out += "<p>None since start.</p>\n" }
        for e in events.suffix(20).reversed() {
            out += "<p>#\(e.sequence) \(Formatting.html(e.key)): \(e.from.rawValue) → \(e.to.rawValue) at \(Formatting.fixed(e.value, 3)) (threshold \(Formatting.fixed(e.threshold, 3)))</p>\n"
        }
        if let historyRows {
            out += "<h2>History</h2><p>\(Formatting.html(configuration.history.path)): \(historyRows.raw) raw rows (kept \(configuration.history.rawRetention)), "
                + "\(historyRows.minutes) minute rows (kept \(configuration.history.minuteRetention)).</p>\n"
        }
        return out + "</body></html>\n"
    }
}
