import Foundation
import HVTaxTestSupport
import Testing

/// TLS and basic auth from the exporter-toolkit style config, checked with curl. The bcrypt hash
/// comes from the system's libcrypt (Python's crypt module), not from the library serve verifies
/// with, and the certificate from openssl.
@Suite("hvtax serve: TLS and basic auth", .serialized, .scratchDirectory)
struct SecurityTests {
    @Test("wrong or missing credentials get 401, the right ones 200; plain HTTP and unverified TLS are refused")
    func tlsAndAuth() throws {
        guard let openssl = ServeTestSupport.executable("openssl") else {
            print("openssl not installed: TLS test skipped")
            return
        }
        let dir = try ScratchDirectory.folder("tls")
        let root = try ServeTestSupport.hostTree(in: dir, vms: 2, vcpus: 1)
        let cert = try ServeTestSupport.run(openssl, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem",
        ])
        try #require(cert.status == 0, "\(cert.output)")
        let hash = try ServeTestSupport.run("/usr/bin/python3", ["-W", "ignore", "-c",
            "import crypt; print(crypt.crypt('s3cret pass', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))"])
        let bcrypt = hash.output.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(hash.status == 0 && bcrypt.hasPrefix("$2b$"), "libcrypt bcrypt: \(hash.output)")
        try """
            tls_server_config:
              cert_file: \(dir)/cert.pem
              key_file: \(dir)/key.pem
            basic_auth_users:
              prometheus: '\(bcrypt)'
            """.write(toFile: dir + "/web.yml", atomically: true, encoding: .utf8)
        let serve = try ServeProcess(arguments: ["--config", dir + "/web.yml", "--root", root, "--interval", "200ms"])
        defer { #expect(serve.stop() == 0) }
        let url = "https://\(serve.address)/metrics"
        let ca = ["--cacert", dir + "/cert.pem"]

        let none = try ServeTestSupport.curl(ca + ["-D", "-", url])
        #expect(none.http == 401)
        #expect(none.body.contains("www-authenticate: Basic realm=\"hvtax\"") || none.body.contains("WWW-Authenticate: Basic"))
        #expect(try ServeTestSupport.curl(ca + ["-u", "prometheus:wrong", url]).http == 401)
        #expect(try ServeTestSupport.curl(ca + ["-u", "nobody:s3cret pass", url]).http == 401)
        let good = try ServeTestSupport.curl(ca + ["-u", "prometheus:s3cret pass", url])
        #expect(good.http == 200 && good.body.contains("hvtax_vms 2"))
        // Again: the remembered verification must still reject a wrong password for the same user.
        #expect(try ServeTestSupport.curl(ca + ["-u", "prometheus:s3cret pasS", url]).http == 401)
        #expect(try ServeTestSupport.curl(ca + ["-u", "prometheus:s3cret pass", url]).http == 200)

        let plain = try ServeTestSupport.curl(["http://\(serve.address)/metrics"])
        #expect(plain.http != 200, "plain HTTP on the TLS port")
        let unverified = try ServeTestSupport.curl(["-u", "prometheus:s3cret pass", url])
        #expect(unverified.exit == 60, "curl refuses the self-signed certificate without --cacert (exit 60): \(unverified)")
    }

    @Test(
        "config errors name the file and the key",
        arguments: [
            ("listen_address: nowhere", "listen_address: expected HOST:PORT"),
            ("basic_auth_users:\n  u: plain", "basic_auth_users.u: expected a bcrypt hash"),
            ("sample_interval: soon", "sample_interval: expected a duration"),
            ("thresholds:\n  steal: {warning: 0.2, critical: 0.1}", "thresholds.steal: expected 0 <= warning <= critical"),
            ("tls_server_config:\n  cert_file: a.pem", "tls_server_config: missing key key_file"),
            ("actions:\n  on_level: severe", "actions.on_level"),
            ("exit_rates: sometimes", "exit_rates"),
            // Syntax errors said only "The given data was not valid YAML.", and printed the usage text.
            ("history:\n  path: a\n   bad: 2", "bad.yml: line 3, column 7: mapping values are not allowed in this context"),
            ("listen_address: \"unterminated", "line 1, column 30: found unexpected end of stream (while scanning a quoted scalar from line 1, column 17)"),
        ])
    func configErrors(yaml: String, message: String) throws {
        let dir = try ScratchDirectory.folder("cfg")
        try yaml.write(toFile: dir + "/bad.yml", atomically: true, encoding: .utf8)
        let result = try ServeTestSupport.run(ServeTestSupport.hvtax, ["serve", "--config", dir + "/bad.yml"])
        #expect(result.status != 0)
        #expect(result.output.contains("\(dir)/bad.yml: "), "\(result.output)")
        #expect(result.output.contains(message), "\(result.output)")
        #expect(!result.output.contains("Usage:"), "a damaged file is no usage mistake")
    }
}
