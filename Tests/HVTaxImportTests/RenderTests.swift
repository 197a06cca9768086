import Foundation
import HVTaxImport
import HVTaxModel
import HVTaxRender
import HVTaxTestSupport
import Testing

@Suite("capture report renderers", .scratchDirectory)
struct RenderTests {
    @Test func jsonRoundTripsAndIsVersioned() throws {
        let report = try CaptureFiles.importText(EsxtopImportTests.capture)
        let json = try JSONRendering.render(report)
        let decoded = try JSONDecoder().decode(CaptureReport.self, from: Data(json.utf8))
        #expect(decoded == report)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "hvtax.capture-report/1")
        // Figures are keyed by name with their unit in it; a missing figure is absent, not zero.
        #expect(json.contains("\"preemptedRatio\" : {"))
        #expect(!json.contains("\"interceptsPerSec\" : {"))
        #expect(json.contains("\"figure\" : \"interceptsPerSec\""))
    }

    @Test func csvHasOneRowPerFigureAndListsTheUnavailable() throws {
        let report = try CaptureFiles.importText(EsxtopImportTests.capture)
        let lines = CaptureCSVRenderer.render(report).split(separator: "\n").map(String.init)
        #expect(lines.first == CaptureCSVRenderer.header)
        #expect(lines.contains { $0.hasPrefix(",capture,,,interceptsPerSec,per-second,,,,,unavailable,\"esxtop does not count exits, ") })
        // A VM name with a colon and parentheses needs no quoting; the cells are per vCPU.
        #expect(lines.contains("localhost,vm,Ted_DEV_ORA,,preemptedRatio,ratio,0.1,0.1,0.1,2,warning,"))
        #expect(lines.contains { $0.hasPrefix("localhost,vm,db:prim (old),,stealRatio,ratio,0.15,") && $0.hasSuffix(",critical,") })
        let fields = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).count }
        #expect(fields.allSatisfy { $0 >= 12 })
    }

    @Test func textIsAlignedAndColouredOnlyWhenAsked() throws {
        let report = try CaptureFiles.importText(EsxtopImportTests.capture)
        let plain = CaptureTextRenderer(style: TerminalStyle(colour: false)).render(report)
        #expect(!plain.contains("\u{1B}["))
        #expect(plain.contains("Host localhost: 2 VMs, 6 vCPUs"))
        #expect(plain.contains("Not available from this capture"))
        #expect(plain.contains("esxtop does not count exits"))
        let lines = plain.split(separator: "\n", omittingEmptySubsequences: false)
        let header = try #require(lines.firstIndex { $0.contains("VM") && $0.contains("%RDY") && $0.contains("vCPUs") })
        // The VM table's right-aligned %RDY column ends at the same place on every row.
        let end = try #require(lines[header].range(of: "%RDY")?.upperBound).utf16Offset(in: lines[header])
        for row in lines[(header + 1)...(header + 2)] {
            let cell = row.prefix(end)
            #expect(cell.hasSuffix("10.0%") || cell.hasSuffix("15.0%"))
        }
        let coloured = CaptureTextRenderer(style: TerminalStyle(colour: true)).render(report)
        #expect(coloured.contains("\u{1B}[1;31m"))
    }

    @Test func hyperVTextShowsLogicalProcessorsAndRoot() throws {
        let text = CaptureTextRenderer(style: TerminalStyle(colour: false)).render(try CaptureFiles.importText(HyperVImportTests.capture))
        #expect(text.contains("Logical processors (2)"))
        #expect(text.contains("Root partition (2)"))
        #expect(text.contains("root partition: 20.0% of the logical processors' run time"))
        #expect(text.contains("web:prod (eu)"))
        #expect(text.contains("70,000 ns"))
    }
}
