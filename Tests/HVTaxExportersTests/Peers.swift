import Foundation

/// Real peers the export tests talk to (influxd, snmpd, a Python receiver), started by the tests
/// on loopback with their own temporary directories and ports, and stopped when the test ends.
final class PeerProcess {
    let process = Process()
    let output = Pipe()
    private var buffer = Data()

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// The next line of the peer's output (stdout and stderr together); nil at its end.
    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return buffer.isEmpty ? nil : String(decoding: buffer, as: UTF8.self) }
            buffer += chunk
        }
    }

    /// Everything left, after the peer exits.
    func rest() -> String {
        process.waitUntilExit()
        let data = buffer + output.fileHandleForReading.readDataToEndOfFile()
        buffer = Data()
        return String(decoding: data, as: UTF8.self)
    }
}

enum Peers {
    /// The first of these that exists.
    static func find(_ candidates: [String]) -> String? {
        candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A program found on PATH, as a shell would.
    static func onPath(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return find(path.split(separator: ":").map { "\($0)/\(program)" } + ["/usr/sbin/\(program)", "/sbin/\(program)"])
    }

    static var python: String? { onPath("python3") }

    /// Whether `python3 -c "import MODULE"` works.
    static func pythonHas(_ module: String) -> Bool {
        guard let python, let peer = try? PeerProcess(python, ["-c", "import \(module)"]) else { return false }
        _ = peer.rest()
        return peer.process.terminationStatus == 0
    }

    /// A loopback TCP (or UDP) port that was free a moment ago: bound to port 0, read, closed. For
    /// peers that cannot bind port 0 themselves and report it (influxd, snmpd).
    static func freePort(udp: Bool = false) -> UInt16 {
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    static func temporaryDirectory(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The repository's checkout, from this file's path.
    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The built `hvtax` next to the test bundle.
    static var hvtax: String {
        var directory = Bundle.main.bundleURL
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("hvtax").path) {
            directory.deleteLastPathComponent()
            if directory.path == "/" { break }
        }
        return directory.appendingPathComponent("hvtax").path
    }
}
