import Foundation

/// `hvtax history` and `/api/v1/history` output: CSV with a header or a JSON array.
public enum HistoryRenderer {
    public static func csv(_ rows: [HistoryStore.Row]) -> String {
        var out = "time_unix_ns,resolution,vm,pid,samples,vcpus,on_cpu,steal,tax,vmm_overhead,exits_per_second,worst_vcpu_steal\n"
        func f(_ v: Double?) -> String { v.map { String($0) } ?? "" }
        for r in rows {
            let vm = r.vm.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + r.vm.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : r.vm
            out += "\(r.timeUnixNs),\(r.resolution),\(vm),\(r.pid.map(String.init) ?? ""),\(r.samples),\(r.vcpus.map(String.init) ?? ""),\(f(r.onCPU)),"
                + "\(f(r.steal)),\(f(r.tax)),\(f(r.vmmOverhead)),\(f(r.exitsPerSecond)),\(f(r.worstVCPUSteal))\n"
        }
        return out
    }

    public static func json(_ rows: [HistoryStore.Row]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(rows), as: UTF8.self) + "\n"
    }
}
