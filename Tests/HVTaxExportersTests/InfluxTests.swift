import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HVTaxExporters
import HVTaxMetrics
import HVTaxModel
import HVTaxTestSupport
import Testing

/// The serve metrics as InfluxDB line protocol: parsed back by a real parser (PyPI
/// line-protocol-parser, in a v2 write API endpoint started by the test) and written into a real
/// InfluxDB 1.6.7 (Debian's influxd, started by the test) and queried back over its HTTP API.
@Suite(.scratchDirectory) struct InfluxTests {
    @Test func targetsNameTheirAPI() throws {
        let v2 = try InfluxTarget(url: "http://127.0.0.1:8086/api/v2/write?org=ops&bucket=kvm", token: "s3cret")
        #expect(v2.api == .v2)
        #expect(v2.writeURL.absoluteString == "http://127.0.0.1:8086/api/v2/write?org=ops&bucket=kvm&precision=ns")
        #expect(v2.authorization == "Token s3cret")
        let v1 = try InfluxTarget(url: "http://alice:pw@db.example:8086/write?db=hvtax")
        #expect(v1.api == .v1)
        #expect(v1.writeURL.absoluteString == "http://db.example:8086/write?db=hvtax&precision=n")
        #expect(v1.authorization == "Basic " + Data("alice:pw".utf8).base64EncodedString())
        #expect(throws: InfluxTargetError.self) { try InfluxTarget(url: "http://h:8086/api/v2/write?org=o&bucket=b") }
        #expect(throws: InfluxTargetError.self) { try InfluxTarget(url: "http://h:8086/write") }
        #expect(throws: InfluxTargetError.self) { try InfluxTarget(url: "http://h:8086/query?db=x") }
        #expect(throws: InfluxTargetError.self) { try InfluxTarget(url: "http://h:8086/write?db=x&precision=s") }
    }

    /// A server that is not there: the error names the URL and says why in the system's words,
    /// with no HTTP status (the write never got an answer).
    @Test func unreachableServerSaysWhy() async throws {
        let port = Peers.freePort()
        let target = try InfluxTarget(url: "http://127.0.0.1:\(port)/write?db=hvtax")
        do {
            try await InfluxWriter(target: target, timeout: 5).write("m v=1 1\n")
            Issue.record("a write to a closed port succeeded")
        } catch {
            #expect(error.status == nil)
            #expect(error.message == "Connection refused", "\(error)")
            #expect(error.description == "writing to \(target.displayURL): Connection refused")
        }
    }

    @Test func escapingAndNonFiniteValues() {
        let descriptor = MetricDescriptor("hvtax_vm_steal_ratio", .gauge, unit: "ratio", labels: ["vm", "uuid"], help: "")
        let family = MetricFamily(descriptor, [MetricSample(["db,02 =x", ""], 0.25), MetricSample(["nan-vm", ""], .nan)])
        let encoded = InfluxLineProtocol().encode([family], timestampNs: 5)
        #expect(encoded.body == "hvtax_vm_steal_ratio,vm=db\\,02\\ \\=x value=0.25 5\n")
        #expect(encoded.lines == 1)
        #expect(encoded.skippedNonFinite == 1)
    }

    /// The v2 write API: hvtax pushes the fixture interval; the endpoint checks the token, the org,
    /// bucket and precision, and parses every line with line-protocol-parser.
    @Test func v2WriteParsedByARealLineProtocolParser() async throws {
        guard let python = Peers.python, Peers.pythonHas("line_protocol_parser") else {
            print("skipped: python3 with line-protocol-parser (pip install line-protocol-parser) is not installed")
            return
        }
        let script = Peers.repository.appendingPathComponent("Tests/HVTaxExportersTests/Scripts/influx_v2_receiver.py").path
        let receiver = try PeerProcess(python, [script, "t0ken", "2"])
        let listening = try #require(receiver.readLine())
        let port = try #require(listening.split(separator: " ").last.flatMap { Int($0) }, "receiver said: \(listening)")
        let (_, families) = try ExportFixtures.families()
        let body = InfluxLineProtocol().encode(families, timestampNs: ExportFixtures.endUnixNs).body
        let url = "http://127.0.0.1:\(port)/api/v2/write?org=ops&bucket=kvm"
        try await InfluxWriter(target: InfluxTarget(url: url, token: "t0ken")).write(body)
        // A wrong token is refused, and the error says so with the server's message.
        await #expect(throws: InfluxWriteError.self) {
            try await InfluxWriter(target: InfluxTarget(url: url, token: "wrong")).write(body)
        }
        // JSONDecoder, not JSONSerialization: the latter rounds the 17th digit on Linux.
        let records = try receiver.rest().split(separator: "\n").map {
            try JSONDecoder().decode(ReceivedWrite.self, from: Data($0.utf8))
        }
        try #require(records.count == 2)
        let accepted = records[0]
        #expect(accepted.error == nil)
        #expect(accepted.query == ["org": "ops", "bucket": "kvm", "precision": "ns"])
        #expect(records[1].error == "unauthorized")
        var parsed: [String: Double] = [:]
        for point in accepted.points {
            let tags = (point.tags ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            #expect(point.time == ExportFixtures.endUnixNs)
            if let value = point.fields["value"] { parsed[ExportFixtures.key(point.measurement, tags)] = value }
        }
        let expected = ExportFixtures.series(families)
        #expect(parsed.count == expected.count)
        for (series, value) in expected {
            #expect(parsed[series] == value, "\(series)")
        }
        // The fixture's VM names include a comma: it survived escaping.
        #expect(parsed.keys.contains { $0.contains("vm=db,02") })
    }

    /// InfluxDB 1.6.7, Debian's influxd: the v1 write API, and the points queried back with InfluxQL.
    @Test func v1WriteIntoARealInfluxDB() async throws {
        guard let influxd = Peers.onPath("influxd") else {
            print("skipped: influxd is not installed (apt-get install influxdb)")
            return
        }
        let server = try await InfluxServer.start(influxd)
        defer { server.stop() }
        try await server.query("CREATE DATABASE hvtax", post: true)
        let (_, families) = try ExportFixtures.families()
        let encoded = InfluxLineProtocol().encode(families, timestampNs: ExportFixtures.endUnixNs)
        try await InfluxWriter(target: InfluxTarget(url: "http://127.0.0.1:\(server.port)/write?db=hvtax")).write(encoded.body)

        var stored: [String: Double] = [:]
        let measurements = try await server.query("SHOW MEASUREMENTS ON hvtax")
        let names = (measurements.series.first?.values ?? []).compactMap { $0.first?.text }
        for name in names {
            let result = try await server.query("SELECT * FROM hvtax.autogen.\"\(name)\"")
            for series in result.series {
                let columns = series.columns
                for row in series.values {
                    var tags: [(String, String)] = []
                    var value: Double?
                    for (column, cell) in zip(columns, row) {
                        if column == "value" { value = cell.number }
                        else if column != "time", let text = cell.text, !text.isEmpty { tags.append((column, text)) }
                    }
                    if let value { stored[ExportFixtures.key(name, tags.sorted { $0.0 < $1.0 })] = value }
                }
            }
        }
        let expected = ExportFixtures.series(families)
        #expect(stored.count == expected.count)
        for (series, value) in expected {
            #expect(stored[series] == value, "\(series)")
        }
        // A database that does not exist: InfluxDB's error reaches the caller.
        await #expect(throws: InfluxWriteError.self) {
            try await InfluxWriter(target: InfluxTarget(url: "http://127.0.0.1:\(server.port)/write?db=nope")).write(encoded.body)
        }
    }

    /// `hvtax snapshot --influx-url` end to end into the real InfluxDB.
    @Test func snapshotCommandPushesEveryInterval() async throws {
        guard let influxd = Peers.onPath("influxd") else {
            print("skipped: influxd is not installed (apt-get install influxdb)")
            return
        }
        let server = try await InfluxServer.start(influxd)
        defer { server.stop() }
        try await server.query("CREATE DATABASE live", post: true)
        let fixture = Peers.repository.appendingPathComponent("Tests/HVTaxLiveTests/Fixtures/live-libvirt-v2/t0").path
        let run = try PeerProcess(Peers.hvtax, ["snapshot", "--root", fixture, "--count", "3", "--interval", "50ms", "--format", "json",
                                                "--influx-url", "http://127.0.0.1:\(server.port)/write?db=live"])
        let output = run.rest()
        #expect(run.status == 0, "\(output)")
        let result = try await server.query("SELECT count(value) FROM live.autogen.hvtax_samples_total")
        #expect(result.series.first?.values.first?.last?.number == 3)
        let vms = try await server.query("SHOW TAG VALUES ON live FROM hvtax_vm_vcpus WITH KEY = vm")
        #expect(Set((vms.series.first?.values ?? []).compactMap { $0.last?.text }) == ["web01", "db,02"])
    }

    /// `hvtax serve --influx-url`: while serving /metrics it pushes every interval into InfluxDB.
    @Test func servePushesEveryInterval() async throws {
        guard let influxd = Peers.onPath("influxd") else {
            print("skipped: influxd is not installed (apt-get install influxdb)")
            return
        }
        let server = try await InfluxServer.start(influxd)
        defer { server.stop() }
        try await server.query("CREATE DATABASE served", post: true)
        let fixture = Peers.repository.appendingPathComponent("Tests/HVTaxLiveTests/Fixtures/live-libvirt-v2/t0").path
        let serve = try PeerProcess(Peers.hvtax, ["serve", "--listen", "127.0.0.1:0", "--root", fixture, "--interval", "200ms",
                                                  "--influx-url", "http://127.0.0.1:\(server.port)/write?db=served"])
        defer { serve.stop() }
        var samples = 0.0
        for _ in 0..<150 where samples < 3 {
            try await Task.sleep(for: .milliseconds(100))
            let result = try await server.query("SELECT max(value) FROM served.autogen.hvtax_samples_total")
            samples = result.series.first?.values.first?.last?.number ?? 0
        }
        #expect(samples >= 3, "serve pushed \(samples) intervals: \(serve.rest(seconds: 1))")
        let vms = try await server.query("SHOW TAG VALUES ON served FROM hvtax_vm_vcpus WITH KEY = vm")
        #expect(Set((vms.series.first?.values ?? []).compactMap { $0.last?.text }) == ["web01", "db,02"])
    }
}

/// influxd with its own config, directories and ports, stopped (and its files removed) at the end.
final class InfluxServer {
    let port: UInt16
    let directory: URL
    let process: PeerProcess

    /// InfluxQL's JSON answer: {"results":[{"series":[{"name","columns","values"}],"error"}]}.
    struct Response: Decodable {
        struct Result: Decodable {
            var series: [QueryResult.Series]?
            var error: String?
        }
        var results: [Result]
    }

    struct QueryResult: Decodable {
        struct Series: Decodable {
            var columns: [String]
            var values: [[Cell]]
        }
        var series: [Series]
    }

    enum Cell: Decodable {
        case text(String), number(Double), other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .text(value) }
            else { self = .other }
        }

        var text: String? { if case .text(let value) = self { value } else { nil } }
        var number: Double? { if case .number(let value) = self { value } else { nil } }
    }

    init(influxd: String) throws {
        // In the running test's folder: removed with it, however the test ends.
        directory = URL(fileURLWithPath: try ScratchDirectory.folder("influxd"))
        port = Peers.freePort()
        let rpc = Peers.freePort()
        let config = """
            reporting-disabled = true
            bind-address = "127.0.0.1:\(rpc)"
            [meta]
              dir = "\(directory.path)/meta"
            [data]
              dir = "\(directory.path)/data"
              wal-dir = "\(directory.path)/wal"
              query-log-enabled = false
            [http]
              bind-address = "127.0.0.1:\(port)"
              log-enabled = false
            [monitor]
              store-enabled = false
            """
        let path = directory.appendingPathComponent("influxdb.conf")
        try config.write(to: path, atomically: true, encoding: .utf8)
        process = try PeerProcess(influxd, ["-config", path.path])
    }

    /// Started and answering /ping with 204.
    static func start(_ influxd: String) async throws -> InfluxServer {
        let server = try InfluxServer(influxd: influxd)
        for _ in 0..<200 {
            let ping = URLRequest(url: URL(string: "http://127.0.0.1:\(server.port)/ping")!)
            if let (_, response) = try? await URLSession.shared.data(for: ping), (response as? HTTPURLResponse)?.statusCode == 204 {
                return server
            }
            guard server.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        server.process.stop()
        throw InfluxStartError(message: "influxd did not answer /ping on port \(server.port): \(server.process.rest())")
    }

    struct InfluxStartError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    func stop() {
        process.stop()
    }

    @discardableResult
    func query(_ q: String, post: Bool = false) async throws -> QueryResult {
        var components = URLComponents(string: "http://127.0.0.1:\(port)/query")!
        components.queryItems = [URLQueryItem(name: "q", value: q)]
        var request = URLRequest(url: components.url!)
        if post { request.httpMethod = "POST" }
        let (data, _) = try await URLSession.shared.data(for: request)
        let result = try JSONDecoder().decode(Response.self, from: data).results.first
        if let error = result?.error { throw InfluxStartError(message: "\(q): \(error)") }
        return QueryResult(series: result?.series ?? [])
    }
}

/// One write as the v2 receiver script saw it.
struct ReceivedWrite: Decodable {
    struct Point: Decodable {
        var measurement: String
        var tags: [String: String]?
        var fields: [String: Double]
        var time: UInt64
    }
    var path: String
    var query: [String: String]
    var authorization: String?
    var points: [Point]
    var error: String?
}
