import Foundation
import HVTaxExporters
import HVTaxMetrics
import HVTaxModel
import HVTaxTestSupport
import Testing

/// `hvtax snmp-pass` under Debian's real snmpd (started by the test on a free loopback port with
/// its own config and state directory), walked with snmpwalk; the values against the subtree
/// computed in-process from the same interval; every served object against mibs/HVTAX-MIB.txt.
@Suite(.scratchDirectory) struct SNMPTests {
    static let base = SNMPSubtree.defaultBase

    @Test(arguments: [
        ("PING", nil, "PONG\n"),
        ("get", ".1.3.6.1.3.4837.1.1.1.0", ".1.3.6.1.3.4837.1.1.1.0\ngauge\n2\n"),
        ("getnext", ".1.3.6.1.3.4837", ".1.3.6.1.3.4837.1.1.1.0\ngauge\n2\n"),
        ("getnext", ".1.3.6.1.3.4837.1.1.1.0", ".1.3.6.1.3.4837.1.2.1.2.7\nstring\nweb,01\n"),
        ("getnext", ".1.3.6.1.3.4837.1.2.1.2.7", ".1.3.6.1.3.4837.1.2.1.8.7\ncounter64\n12345678901\n"),
        ("getnext", ".1.3.6.1.3.4837.1.2.1.8.7", "NONE\n"),
        ("get", ".1.3.6.1.3.4837.1.1.1", "NONE\n"),
        ("get", ".1.3.6.1.2.1.1.1.0", "NONE\n"),
        ("get", "not an oid", "NONE\n"),
    ] as [(String, String?, String)])
    func passPersistProtocol(_ command: String, _ oid: String?, _ expected: String) {
        let tree = SNMPSubtree(objects: [
            (OID(".1.3.6.1.3.4837.1.2.1.8.7")!, .counter64(12_345_678_901)),
            (OID(".1.3.6.1.3.4837.1.1.1.0")!, .gauge32(2)),
            (OID(".1.3.6.1.3.4837.1.2.1.2.7")!, .string("web,01")),
        ])
        var session = PassPersistSession()
        var answer = session.answer(command, subtree: { tree })
        if let oid {
            #expect(answer == nil)
            answer = session.answer(oid, subtree: { tree })
        }
        #expect(answer == expected)
    }

    @Test func setIsRefusedAndOIDsSortByArc() {
        var session = PassPersistSession()
        #expect(session.answer("set", subtree: { SNMPSubtree(objects: []) }) == nil)
        #expect(session.answer(".1.3.6.1.3.4837.1.1.1.0", subtree: { SNMPSubtree(objects: []) }) == nil)
        #expect(session.answer("gauge 5", subtree: { SNMPSubtree(objects: []) }) == "not-writable\n")
        #expect(OID(".1.3.6.1.3.4837.1.2.1.2.9")! < OID(".1.3.6.1.3.4837.1.2.1.2.10")!)
        #expect(OID(".1.3.6.1.3")! < OID(".1.3.6.1.3.0")!)
    }

    /// The fixture interval, written as `hvtax snapshot --format json` would, served through
    /// snmpd: every object walked equals the in-process subtree of the same interval.
    @Test func snmpwalkThroughSnmpdMatchesTheSubtree() throws {
        guard let snmpd = Peers.onPath("snmpd"), let snmpwalk = Peers.onPath("snmpwalk") else {
            print("skipped: snmpd and snmpwalk are not installed (apt-get install snmpd snmp)")
            return
        }
        let directory = URL(fileURLWithPath: try ScratchDirectory.folder("snmp"))
        let (snapshot, families) = try ExportFixtures.families()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let file = directory.appendingPathComponent("snapshots.jsonl")
        try (String(decoding: try encoder.encode(snapshot), as: UTF8.self) + "\n").write(to: file, atomically: true, encoding: .utf8)
        let walked = try Self.walk(snmpd: snmpd, snmpwalk: snmpwalk, directory: directory,
                                   handler: "\(Peers.hvtax) snmp-pass --snapshots \(file.path) --interval 100ms")
        let expected = SNMPSubtree(families: families)
        try #require(!expected.objects.isEmpty)
        #expect(walked.count == expected.objects.count)
        for (oid, value) in expected.objects {
            #expect(walked[oid.description] == Self.snmpwalkText(value), "\(oid)")
        }
        // Tax, steal and VMM overhead of the fixture VMs are really there, in ppm.
        let tax = try #require(families[MetricCatalogue.vmTax.name]?.value(["vm": "web01"])?.number)
        #expect(tax > 0)
        #expect(walked[".1.3.6.1.3.4837.1.2.1.5.4100"] == "Gauge32: \(UInt32((tax * 1_000_000).rounded()))")
        try Self.checkAgainstMIB(walked)
    }

    /// `hvtax snapshot --format json >> file` may be mid-line when snmp-pass reads the file: that
    /// last line waits for its newline. It used to stop the sampling for good, and every get said NONE.
    @Test func aSnapshotLineStillBeingWrittenWaits() throws {
        let directory = URL(fileURLWithPath: try ScratchDirectory.folder("snmp-torn"))
        let (snapshot, families) = try ExportFixtures.families()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = String(decoding: try encoder.encode(snapshot), as: UTF8.self)
        let file = directory.appendingPathComponent("snapshots.jsonl")
        try (line + "\n" + line.prefix(line.count / 2)).write(to: file, atomically: true, encoding: .utf8)
        let vms = ".1.3.6.1.3.4837.1.1.1.0"
        let expected = try #require(SNMPSubtree(families: families).objects.first { $0.oid.description == vms }?.value)
        guard case .gauge32(let count) = expected else { Issue.record("\(expected)"); return }
        // A few gets, 200 ms apart: the handler answers once its first read of the file is done.
        let script = "(echo PING; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.2; printf 'get\\n\(vms)\\n'; done) | "
            + "\(Peers.hvtax) snmp-pass --snapshots \(file.path) --interval 100ms"
        let handler = try PeerProcess("/bin/sh", ["-c", script])
        let output = handler.rest()
        #expect(output.hasPrefix("PONG\n"), "\(output)")
        #expect(output.contains("\(vms)\ngauge\n\(count)\n"), "\(output)")
        #expect(!output.contains("sampling stopped"), "\(output)")
    }

    /// The live path: snmp-pass sampling a host tree itself.
    @Test func snmpwalkOfTheLiveView() throws {
        guard let snmpd = Peers.onPath("snmpd"), let snmpwalk = Peers.onPath("snmpwalk") else {
            print("skipped: snmpd and snmpwalk are not installed (apt-get install snmpd snmp)")
            return
        }
        let directory = URL(fileURLWithPath: try ScratchDirectory.folder("snmp-live"))
        let tree = Peers.repository.appendingPathComponent("Tests/HVTaxLiveTests/Fixtures/live-libvirt-v2/t0").path
        let walked = try Self.walk(snmpd: snmpd, snmpwalk: snmpwalk, directory: directory,
                                   handler: "\(Peers.hvtax) snmp-pass --root \(tree) --interval 100ms")
        #expect(walked[".1.3.6.1.3.4837.1.1.1.0"] == "Gauge32: 2")
        #expect(walked[".1.3.6.1.3.4837.1.2.1.2.4100"] == "STRING: \"web01\"")
        #expect(walked[".1.3.6.1.3.4837.1.2.1.2.4200"] == "STRING: \"db,02\"")
        #expect(walked[".1.3.6.1.3.4837.1.2.1.4.4100"] == "Gauge32: 2")
        #expect(walked.keys.contains(".1.3.6.1.3.4837.1.3.1.2.4100.1"))
        try Self.checkAgainstMIB(walked)
    }

    /// snmpwalk's rendering of a value with -On (numeric OIDs).
    static func snmpwalkText(_ value: SNMPValue) -> String {
        switch value {
        case .gauge32(let v): "Gauge32: \(v)"
        case .counter64(let v): "Counter64: \(v)"
        case .integer32(let v): "INTEGER: \(v)"
        case .string(let v): "STRING: \"\(v)\""
        }
    }

    /// Starts snmpd with a pass_persist line for `handler`, walks the hvtax subtree, stops snmpd.
    static func walk(snmpd: String, snmpwalk: String, directory: URL, handler: String) throws -> [String: String] {
        let port = Peers.freePort(udp: true)
        let config = directory.appendingPathComponent("snmpd.conf")
        try """
            rocommunity public 127.0.0.1
            pass_persist \(base) \(handler)
            """.write(to: config, atomically: true, encoding: .utf8)
        let agent = try PeerProcess(snmpd, ["-f", "-Lo", "-C", "-c", config.path, "-I", "-smux", "udp:127.0.0.1:\(port)"],
                                    environment: ["SNMP_PERSISTENT_DIR": directory.appendingPathComponent("state").path])
        defer { agent.stop() }
        var lines: [String] = []
        // snmpd needs a moment to bind; retry the walk until it answers.
        for _ in 0..<50 {
            let walk = try PeerProcess(snmpwalk, ["-v2c", "-c", "public", "-On", "-t", "3", "-r", "1", "127.0.0.1:\(port)", base.description])
            let output = walk.rest()
            if walk.status == 0, output.contains(base.description) {
                lines = output.split(separator: "\n").map(String.init)
                break
            }
            usleep(100_000)
        }
        var walked: [String: String] = [:]
        for line in lines {
            guard let range = line.range(of: " = ") else { continue }
            walked[String(line[..<range.lowerBound])] = String(line[range.upperBound...])
        }
        try #require(!walked.isEmpty, "snmpwalk got nothing from snmpd on port \(port)")
        return walked
    }

    /// Every served object is in mibs/HVTAX-MIB.txt under the OID the MIB gives it, with the
    /// matching SYNTAX; smilint checks the MIB itself where the IETF base modules are installed.
    static func checkAgainstMIB(_ walked: [String: String]) throws {
        let mib = try MIBFile(Peers.repository.appendingPathComponent("mibs/HVTAX-MIB.txt"))
        for (oid, value) in walked {
            let object = try #require(mib.object(containing: oid), "\(oid) is not defined in HVTAX-MIB")
            let type = String(value.prefix { $0 != ":" })
            let expected = ["Gauge32": "Gauge32", "Counter64": "Counter64", "DisplayString": "STRING", "Integer32": "INTEGER"][object.syntax]
            #expect(expected == type, "\(oid): MIB says \(object.syntax) for \(object.name), snmpd served \(type)")
        }
    }
}

/// The object definitions of an SMIv2 MIB file, enough to resolve names to OIDs (a check of our
/// own MIB against what is served, not a general MIB parser).
struct MIBFile {
    struct Object {
        var name: String
        var syntax: String
        var oid: [UInt32]
    }

    var objects: [Object] = []

    init(_ url: URL) throws {
        var text = try String(contentsOf: url, encoding: .utf8)
            .split(separator: "\n").map { line in line.range(of: "--").map { String(line[..<$0.lowerBound]) } ?? String(line) }
            .joined(separator: "\n")
        // IMPORTS names the macros this parse looks for: leave the clause out.
        if let imports = text.range(of: "IMPORTS"), let end = text[imports.upperBound...].firstIndex(of: ";") {
            text.removeSubrange(imports.lowerBound...end)
        }
        var known: [String: [UInt32]] = ["experimental": [1, 3, 6, 1, 3]]
        var syntaxes: [String: String] = [:]
        let definition = try NSRegularExpression(pattern: #"(\w[\w-]*)\s+(OBJECT-TYPE|OBJECT IDENTIFIER|MODULE-IDENTITY|MODULE-COMPLIANCE|OBJECT-GROUP)(.*?)::=\s*\{\s*(\w[\w-]*)\s+(\d+)\s*\}"#,
                                                 options: [.dotMatchesLineSeparators])
        let syntax = try NSRegularExpression(pattern: #"SYNTAX\s+([\w-]+)"#)
        let nsText = text as NSString
        // Definitions refer only to earlier ones in this file, so one pass in order resolves all.
        for match in definition.matches(in: text, range: NSRange(location: 0, length: nsText.length)) {
            let name = nsText.substring(with: match.range(at: 1))
            let body = nsText.substring(with: match.range(at: 3))
            let parent = nsText.substring(with: match.range(at: 4))
            guard let parentOID = known[parent], let arc = UInt32(nsText.substring(with: match.range(at: 5))) else { continue }
            known[name] = parentOID + [arc]
            if let s = syntax.firstMatch(in: body, range: NSRange(location: 0, length: (body as NSString).length)) {
                syntaxes[name] = (body as NSString).substring(with: s.range(at: 1))
                objects.append(Object(name: name, syntax: syntaxes[name]!, oid: parentOID + [arc]))
            }
        }
    }

    /// The leaf object whose OID is a prefix of this instance OID (scalar `.0` or table index).
    func object(containing instance: String) -> Object? {
        guard let oid = OID(instance) else { return nil }
        return objects.filter { oid.arcs.starts(with: $0.oid) && oid.arcs.count > $0.oid.count && $0.syntax != "SEQUENCE" }
            .max { $0.oid.count < $1.oid.count }
    }
}
