import Foundation
import HVTaxImport
import HVTaxModel
import HVTaxTestSupport

/// Hand-built captures in the PDH-CSV layout: a header row, then one row per sample, every cell
/// quoted, CRLF line ends as Windows writes them.
enum CaptureFiles {
    /// A cell with no value in that sample, written `" "` as typeperf does.
    static let blank: String? = nil

    static func pdh(preamble: String = "(PDH-CSV 4.0) (UTC)(0)", columns: [String],
                    rows: [(time: String, cells: [String?])], lineEnding: String = "\r\n") -> String {
        var lines = [([preamble] + columns).map { "\"\($0)\"" }.joined(separator: ",")]
        for row in rows {
            lines.append((["\"\(row.time)\""] + row.cells.map { "\"\($0 ?? " ")\"" }).joined(separator: ","))
        }
        return lines.joined(separator: lineEnding) + lineEnding
    }

    /// Writes `text` to a file in the running test's scratch directory and returns its path.
    static func write(_ text: String, name: String = "capture.csv") throws -> String {
        try write(Data(text.utf8), name: name)
    }

    static func write(_ data: Data, name: String) throws -> String {
        // One test may write several captures under the same name: each gets a folder of its own.
        let folder = try ScratchDirectory.current.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    static func importText(_ text: String, thresholds: CaptureThresholds = .standard) throws -> CaptureReport {
        try CaptureImporter.importFile(path: try write(text), thresholds: thresholds)
    }

    /// Samples 5 s apart from 09/08/2002 12:35:45.166, the time of Microsoft's PDH-CSV example.
    static func time(_ sample: Int) -> String {
        let seconds = 45 + sample * 5
        let minute = 35 + seconds / 60
        return "09/08/2002 12:\(minute):\(String(format: "%02d", seconds % 60)).166"
    }
}

extension Double {
    func isClose(to other: Double, tolerance: Double = 1e-9) -> Bool {
        abs(self - other) <= tolerance * max(1, abs(other))
    }
}
