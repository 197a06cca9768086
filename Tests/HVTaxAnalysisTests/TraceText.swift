import Foundation
import HVTaxModel
import HVTaxPipeline

/// The report of a trace written inline in a test, read through the same pipeline as a file.
func traceReport(ofText text: String) throws -> TraceReport {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-test-\(UUID().uuidString).txt").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try TraceReportPipeline.run(paths: [path])
}
