import Foundation
import HVTaxMetrics
import Testing

/// contrib/grafana/hvtax-dashboard.json must be valid JSON and use only metrics hvtax exports.
@Suite("Grafana dashboard")
struct DashboardTests {
    @Test("well-formed JSON; every hvtax_ name in its queries is in the catalogue; tax and steal are on it")
    func dashboard() throws {
        let here = #filePath
        let root = here[..<here.range(of: "/Tests/")!.lowerBound]
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(root)/contrib/grafana/hvtax-dashboard.json"))
        let object = try JSONSerialization.jsonObject(with: data)
        var expressions: [String] = []
        func walk(_ value: Any) {
            if let dictionary = value as? [String: Any] {
                for (key, child) in dictionary {
                    if (key == "expr" || key == "query"), let text = child as? String { expressions.append(text) }
                    if key == "definition", let text = child as? String { expressions.append(text) }
                    walk(child)
                }
            } else if let array = value as? [Any] {
                array.forEach(walk)
            }
        }
        walk(object)
        #expect(expressions.count >= 8)
        var known = Set<String>()
        for d in MetricCatalogue.all {
            known.insert(d.exposedName)
            if d.type == .histogram { known.formUnion(["_bucket", "_sum", "_count"].map { d.name + $0 }) }
        }
        let pattern = try Regex("hvtax_[a-z0-9_]+")
        var used = Set<String>()
        for expression in expressions {
            for match in expression.matches(of: pattern) { used.insert(String(expression[match.range])) }
        }
        #expect(used.subtracting(known).isEmpty, "unknown metrics: \(used.subtracting(known).sorted())")
        #expect(used.isSuperset(of: ["hvtax_vm_tax_ratio", "hvtax_vcpu_steal_ratio", "hvtax_vcpu_seconds_total"]))
    }
}
