import HVTaxModel

// JSON goes through `JSONRendering` like every report; its schema is docs/capture-report-schema.md.

/// The capture report as long-format CSV, one row per figure of each host, VM and processor, ready
/// for a spreadsheet's pivot table. Figures the capture cannot give come first, with level
/// `unavailable` and the reason, so no one reads a missing figure as zero.
public enum CaptureCSVRenderer {
    public static let header = "host,scope,group,cpu,figure,unit,mean,min,max,samples,level,note"

    public static func render(_ report: CaptureReport) -> String {
        var lines = [header]
        for figure in report.figures where !figure.available {
            lines.append(row(["", "capture", "", "", figure.figure.rawValue, figure.unit.rawValue, "", "", "", "",
                              Level.unavailable.rawValue, figure.reason ?? ""]))
        }
        for host in report.hosts {
            append(&lines, host: host.name, scope: "host", group: "", cpu: "", values: host.values,
                   tax: host.tax, steal: host.steal, levels: host.levels)
            let groups = host.vms.map { ("vm", $0) }
                + [host.logicalProcessors, host.root].compactMap { $0 }.map { ($0.name == "root partition" ? "root" : "logical-processors", $0) }
            for (scope, group) in groups {
                append(&lines, host: host.name, scope: scope, group: group.name, cpu: "", values: group.values,
                       tax: group.tax, steal: group.steal, levels: group.levels)
                for cpu in group.cpus {
                    append(&lines, host: host.name, scope: scope + "-cpu", group: group.name, cpu: cpu.instance,
                           values: cpu.values, tax: cpu.tax, steal: cpu.steal, levels: cpu.levels)
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func append(_ lines: inout [String], host: String, scope: String, group: String, cpu: String,
                               values: [CaptureFigure: SampledValue], tax: RatedRatio, steal: RatedRatio,
                               levels: [CaptureFigure: Level]) {
        for figure in CaptureFigure.allCases {
            guard let value = values[figure] else { continue }
            lines.append(row([host, scope, group, cpu, figure.rawValue, figure.unit.rawValue, number(value.mean),
                              number(value.min), number(value.max), String(value.samples),
                              levels[figure]?.rawValue ?? "", ""]))
        }
        for (name, rated) in [("taxRatio", tax), ("stealRatio", steal)] {
            lines.append(row([host, scope, group, cpu, name, CaptureFigureUnit.ratio.rawValue,
                              rated.ratio.map(number) ?? "", "", "", "", rated.level.rawValue, ""]))
        }
    }

    /// Full precision, the shortest text that reads back to the same Double.
    private static func number(_ value: Double) -> String { "\(value)" }

    /// RFC 4180: quote a field holding a comma, quote or newline (VM names may hold anything).
    private static func row(_ fields: [String]) -> String {
        fields.map { field in
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
            return "\"" + field.replacing("\"", with: "\"\"") + "\""
        }.joined(separator: ",")
    }
}
