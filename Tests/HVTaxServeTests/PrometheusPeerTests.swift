import Foundation
import HVTaxMetrics
import HVTaxTestSupport
import Testing

/// hvtax serve scraped by the real thing: Debian's prometheus and promtool (package prometheus).
@Suite("hvtax serve with Prometheus", .serialized, .scratchDirectory)
struct PrometheusPeerTests {
    @Test("promtool check metrics passes on /metrics; OpenMetrics by Accept; API and status page answer")
    func exposition() throws {
        let dir = try ScratchDirectory.folder("expo")
        let root = try ServeTestSupport.hostTree(in: dir, vms: 12, vcpus: 2)
        let serve = try ServeProcess(arguments: ["--root", root, "--interval", "200ms"])
        defer { #expect(serve.stop() == 0, "SIGTERM ends serve cleanly: \(serve.text.suffix(500))") }

        let text = try ServeTestSupport.curl(["-D", "-", "http://\(serve.address)/metrics"])
        #expect(text.http == 200)
        #expect(text.body.lowercased().contains("content-type: text/plain; version=0.0.4"))
        #expect(text.body.contains("hvtax_vm_vcpus{vm=\"vm0\"} 2\n"))
        let body = try ServeTestSupport.curl(["http://\(serve.address)/metrics"]).body
        #expect(body.components(separatedBy: "hvtax_vm_info{").count - 1 == 12)
        // gzip when asked (Prometheus asks), compressed once per interval: curl inflates it to the same text.
        let gzipped = try ServeTestSupport.curl(["-D", "-", "--compressed", "http://\(serve.address)/metrics"])
        #expect(gzipped.body.lowercased().contains("content-encoding: gzip"))
        let inflated = try ServeTestSupport.curl(["--compressed", "http://\(serve.address)/metrics"]).body
        #expect(inflated.hasPrefix("# HELP hvtax_vcpu_seconds_total") && inflated.contains("hvtax_vms 12\n"))
        if let promtool = ServeTestSupport.executable("promtool") {
            let lint = try ServeTestSupport.run(promtool, ["check", "metrics"], stdin: body)
            #expect(lint.status == 0 && lint.output.isEmpty, "promtool: \(lint.output)")
        } else {
            print("promtool not installed (Debian package prometheus): lint skipped")
        }

        let open = try ServeTestSupport.curl(["-D", "-", "-H", "Accept: application/openmetrics-text; version=1.0.0", "http://\(serve.address)/metrics"])
        #expect(open.body.lowercased().contains("content-type: application/openmetrics-text; version=1.0.0"))
        #expect(open.body.hasSuffix("# EOF\n"))
        #expect(open.body.contains("# TYPE hvtax_vcpu_seconds counter\n# UNIT hvtax_vcpu_seconds seconds\n"))

        let vms = try ServeTestSupport.curl(["http://\(serve.address)/api/v1/vms"])
        let list = try JSONSerialization.jsonObject(with: Data(vms.body.utf8)) as? [[String: Any]]
        #expect(list?.count == 12)
        let name = try #require(list?.first?["name"] as? String)
        #expect(try ServeTestSupport.curl(["http://\(serve.address)/api/v1/vms/\(name)"]).http == 200)
        #expect(try ServeTestSupport.curl(["http://\(serve.address)/api/v1/vms/no-such-vm"]).http == 404)
        let snapshot = try ServeTestSupport.curl(["http://\(serve.address)/api/v1/snapshot"])
        #expect(snapshot.body.contains("\"schema\":\"hvtax.snapshot\\/1\"") || snapshot.body.contains("\"schema\":\"hvtax.snapshot/1\""))
        let collectors = try ServeTestSupport.curl(["http://\(serve.address)/api/v1/collectors"]).body
        #expect(collectors.contains("\"name\":\"kvm_debugfs_exits\",\"needsRoot\":true"))
        let page = try ServeTestSupport.curl(["http://\(serve.address)/"])
        #expect(page.http == 200 && page.body.contains("<h1>hvtax serve</h1>") && page.body.contains(name))
        #expect(try ServeTestSupport.curl(["-X", "POST", "http://\(serve.address)/metrics"]).http == 405, "read-only")
        let head = try ServeTestSupport.curl(["-I", "http://\(serve.address)/metrics"])
        #expect(head.http == 200 && head.body.lowercased().contains("content-type: text/plain; version=0.0.4"), "\(head.body)")
    }

    @Test("a real Prometheus scrapes hvtax serve; PromQL over its HTTP API returns every VM's series")
    func prometheusScrapes() throws {
        guard let prometheus = ServeTestSupport.executable("prometheus") else {
            print("prometheus not installed (Debian package prometheus): skipped")
            return
        }
        let dir = try ScratchDirectory.folder("prom")
        let root = try ServeTestSupport.hostTree(in: dir, vms: 5, vcpus: 3)
        let serve = try ServeProcess(arguments: ["--root", root, "--interval", "200ms"])
        defer { _ = serve.stop() }
        let port = ServeTestSupport.freePort()
        try """
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
            scrape_configs:
              - job_name: hvtax
                static_configs:
                  - targets: ["\(serve.address)"]
            """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: prometheus)
        server.arguments = ["--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/tsdb",
                            "--web.listen-address=127.0.0.1:\(port)"]
        server.standardOutput = FileHandle.nullDevice
        let log = dir + "/prometheus.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        server.standardError = FileHandle(forWritingAtPath: log)
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        func query(_ promql: String) throws -> [[String: Any]] {
            let r = try ServeTestSupport.curl(["--get", "--data-urlencode", "query=\(promql)", "http://127.0.0.1:\(port)/api/v1/query"])
            guard r.http == 200, let object = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any],
                let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
            else { return [] }
            return result
        }
        let scraped = try ServeTestSupport.waitFor(40) { try query("hvtax_vm_vcpus").count == 5 }
        #expect(scraped, "Prometheus log: \((try? String(contentsOfFile: log, encoding: .utf8))?.suffix(1500) ?? "")")
        let up = try query("up{job=\"hvtax\"}")
        #expect((up.first?["value"] as? [Any])?.last as? String == "1")
        let vcpus = try query("hvtax_vm_vcpus")
        #expect(vcpus.allSatisfy { ($0["value"] as? [Any])?.last as? String == "3" })
        let names = Set(vcpus.compactMap { ($0["metric"] as? [String: String])?["vm"] })
        #expect(names.count == 5)
        // 5 VMs x 3 vCPUs x 5 states, each counter scraped through OpenMetrics (what Prometheus asks for first).
        let states = try query("count(hvtax_vcpu_seconds_total)")
        #expect((states.first?["value"] as? [Any])?.last as? String == "75")
        let info = try query("hvtax_vm_info{kind=\"libvirt\"}")
        #expect(info.count == 5)
        #expect(try query("hvtax_collector_up{collector=\"kvm_debugfs_exits\",needs_root=\"true\"}").count == 1)
    }
}
