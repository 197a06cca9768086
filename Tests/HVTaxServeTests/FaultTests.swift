import Foundation
import HVTaxTestSupport
import Testing

/// A raw TCP connection to serve.
final class RawClient {
    let fd: Int32

    init(_ address: String, receiveBuffer: Int32? = nil) throws {
        let parts = address.split(separator: ":")
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = inet_addr(String(parts[0]))
        sa.sin_port = UInt16(Int(parts[1])!).bigEndian
        let result = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard result == 0 else { throw TestFailure("connect to \(address) failed: errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
    func send(_ text: String) { send(Array(text.utf8)) }

    /// Up to `limit` bytes, or what arrived before the peer closed or 5 s passed.
    func receive(_ limit: Int) -> String {
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = read(fd, &buffer, min(buffer.count, limit - out.count))
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Close with a reset (SO_LINGER 0), as a client that crashes does.
    func reset() {
        var linger = Foundation.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Foundation.linger>.size))
        close(fd)
    }

    func finish() { close(fd) }
}

/// Clients that misbehave must not hurt the others or the sampler: a slow client holding a half
/// request open, garbage and oversized requests, clients that vanish in the middle of a response.
@Suite("hvtax serve under bad clients", .serialized, .scratchDirectory)
struct FaultTests {
    static func samples(_ address: String) throws -> Double? {
        let body = try ServeTestSupport.curl(["http://\(address)/metrics"]).body
        return body.split(separator: "\n").first { $0.hasPrefix("hvtax_samples_total ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    @Test("slow, malformed, oversized and vanishing clients: other clients get 200, the sampler keeps sampling")
    func badClients() throws {
        let dir = try ScratchDirectory.folder("faults")
        let root = try ServeTestSupport.hostTree(in: dir, vms: 40, vcpus: 4)
        let serve = try ServeProcess(arguments: ["--root", root, "--interval", "200ms"])
        defer { #expect(serve.stop() == 0, "still shuts down cleanly: \(serve.text.suffix(400))") }
        let url = "http://\(serve.address)/metrics"

        // Slow clients: half a request head each, left open.
        let slow = try (0..<20).map { _ in try RawClient(serve.address) }
        for client in slow { client.send("GET /metrics HTTP/1.1\r\nHost: x\r\n") }
        for _ in 0..<10 { #expect(try ServeTestSupport.curl([url]).http == 200) }

        // Garbage: a 400 or a closed connection, never a hang or a crash.
        let garbage = try RawClient(serve.address)
        garbage.send([0x00, 0x01, 0xFF, 0xFE] + Array("NOT HTTP AT ALL\r\n\r\n".utf8))
        let answer = garbage.receive(200)
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 400"), "answer to garbage: \(answer)")
        garbage.finish()
        let badVersion = try RawClient(serve.address)
        badVersion.send("GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n")
        let versionAnswer = badVersion.receive(200)
        #expect(!versionAnswer.hasPrefix("HTTP/1.1 200"), "\(versionAnswer)")
        badVersion.finish()

        // Oversized head: 200 KB of header.
        let big = try RawClient(serve.address)
        big.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 200_000) + "\r\n\r\n")
        let bigAnswer = big.receive(200)
        #expect(!bigAnswer.hasPrefix("HTTP/1.1 200"), "\(bigAnswer.prefix(80))")
        big.finish()

        // Vanishing clients: ask for the large exposition, read a little, reset.
        for _ in 0..<30 {
            let client = try RawClient(serve.address, receiveBuffer: 4096)
            client.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(client.receive(512).hasPrefix("HTTP/1.1 200"))
            client.reset()
        }

        let before = try #require(try Self.samples(serve.address))
        for _ in 0..<10 { #expect(try ServeTestSupport.curl([url]).http == 200) }
        usleep(1_000_000)
        let after = try #require(try Self.samples(serve.address))
        #expect(after >= before + 3, "the sampler kept its 200 ms pace: \(before) -> \(after)")
        for client in slow { client.finish() }
    }
}
