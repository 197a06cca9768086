import Foundation
import HVTaxHost
import HVTaxModel
import HVTaxRender
import Testing

@Suite("doctor renderers")
struct DoctorRenderTests {
    static let report = DoctorReport(
        host: DoctorHost(hostname: "h", kernelRelease: "6.1.0", cpus: 2, root: "/", user: "root"),
        checks: [
            DoctorCheck(id: .virtualization, title: "Virtualization", status: .pass, detail: "Intel VT-x", sources: ["/proc/cpuinfo"]),
            DoctorCheck(
                id: .tracefs, title: "tracefs", status: .fail, detail: "not mounted",
                remedy: "mount -t tracefs nodev /sys/kernel/tracing", sources: ["/proc/mounts"]),
        ])

    @Test("text: aligned columns, remedy under the detail, summary with the exit status")
    func text() {
        let text = DoctorTextRenderer(style: TerminalStyle(colour: false)).render(Self.report)
        #expect(
            text == """
                hvtax doctor: host h, kernel 6.1.0, 2 CPUs, running as root

                  PASS  Virtualization  Intel VT-x
                  FAIL  tracefs         not mounted
                                        remedy: mount -t tracefs nodev /sys/kernel/tracing

                2 checks: 1 pass, 0 warn, 1 fail, 0 info; exit status 1 (1 check failed)

                """)
        #expect(!text.contains("\u{1B}"), "no escape codes without colour")
    }

    @Test("colour only when asked")
    func colour() {
        let text = DoctorTextRenderer(style: TerminalStyle(colour: true)).render(Self.report)
        #expect(text.contains("\u{1B}[32mPASS\u{1B}[0m"))
        #expect(text.contains("\u{1B}[1;31mFAIL\u{1B}[0m"))
    }

    @Test("JSON: versioned schema, stable key order, round trip")
    func json() throws {
        let json = try DoctorJSONRenderer().render(Self.report)
        #expect(json.contains("\"schema\" : \"hvtax.doctor/1\""))
        #expect(json.contains("\"id\" : \"tracefs\""))
        #expect(json.contains("\"remedy\" : \"mount -t tracefs nodev /sys/kernel/tracing\""))
        #expect(try DoctorJSONRenderer().render(Self.report) == json, "the same report renders the same bytes")
        let decoded = try JSONDecoder().decode(DoctorReport.self, from: Data(json.utf8))
        #expect(decoded == Self.report)
        #expect(decoded.exitCode == 1)
    }

    @Test("a fixture host's report survives JSON")
    func fixtureRoundTrip() throws {
        let report = Doctor(host: FixtureHost.all[2].environment).run()
        let json = try DoctorJSONRenderer().render(report)
        #expect(try JSONDecoder().decode(DoctorReport.self, from: Data(json.utf8)) == report)
    }
}
