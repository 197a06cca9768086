import HVTaxModel

/// `hvtax doctor --format json`: the report's Codable form through the same encoder settings as
/// every hvtax report (sorted keys: Foundation on Linux otherwise orders keys by hash, and a saved
/// report must not churn). Absent remedies are left out.
public struct DoctorJSONRenderer: Sendable {
    public init() {}

    public func render(_ report: DoctorReport) throws -> String {
        try JSONRendering.render(report)
    }
}
