import Foundation
import HVTaxModel

/// `hvtax doctor --format json`: the report as its Codable form. Keys are sorted because
/// Foundation on Linux otherwise orders them by hash, differently from run to run, and a report
/// that is diffed or kept under version control must not churn. Absent remedies are left out.
public struct DoctorJSONRenderer: Sendable {
    public init() {}

    public func render(_ report: DoctorReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }
}
