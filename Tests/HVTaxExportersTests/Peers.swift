import Foundation

/// Real peers the export tests talk to (influxd, snmpd, snmpwalk, a Python receiver), started by
/// the tests on loopback with their own temporary directories and ports, and stopped when the test
/// ends. Spawned with posix_spawn and reaped with waitpid here, output into a file: Foundation's
/// Process left short-lived children unreaped under parallel tests (a walk that never returned).
final class PeerProcess {
    let pid: pid_t
    private let log: URL
    private var offset = 0
    private var pending = Data()
    private(set) var status: Int32?

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-peer-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let env = ProcessInfo.processInfo.environment.merging(environment ?? [:]) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw PeerError(message: "posix_spawn \(executable): errno \(result)") }
        pid = child
    }

    struct PeerError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: log)
    }

    var isRunning: Bool {
        guard status == nil else { return false }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid {
            status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            return false
        }
        return true
    }

    /// SIGTERM, then SIGKILL after 5 s; reaped either way.
    func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        for _ in 0..<100 {
            if !isRunning { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        while isRunning { usleep(10_000) }
    }

    /// Waits for the peer to exit by itself (at most `seconds`, then stops it).
    @discardableResult
    func wait(seconds: Double = 60) -> Int32 {
        var waited = 0.0
        while isRunning, waited < seconds {
            usleep(20_000)
            waited += 0.02
        }
        stop()
        return status ?? -1
    }

    private func readMore() -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: log) else { return false }
        defer { try? handle.close() }
        try? handle.seek(toOffset: UInt64(offset))
        let data = handle.readDataToEndOfFile()
        offset += data.count
        pending += data
        return !data.isEmpty
    }

    /// The next line of the peer's output (stdout and stderr together); nil once it exited with
    /// nothing more, or after `seconds`.
    func readLine(seconds: Double = 30) -> String? {
        var waited = 0.0
        while true {
            if let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                return line
            }
            if readMore() { continue }
            if !isRunning, !readMore() || pending.isEmpty { return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self) }
            if waited >= seconds { return nil }
            usleep(20_000)
            waited += 0.02
        }
    }

    /// Everything left, after the peer exits (waiting at most `seconds`).
    func rest(seconds: Double = 60) -> String {
        wait(seconds: seconds)
        _ = readMore()
        defer { pending = Data() }
        return String(decoding: pending, as: UTF8.self)
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
        return peer.wait() == 0
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
