import Foundation
import Testing

/// Runs the real `hvtax serve` (the executable next to the test bundle) on a generated host tree,
/// and the real peers around it: curl, promtool, prometheus, openssl.
enum ServeTestSupport {
    static var hvtax: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("hvtax").path
    }

    static var repository: String {
        let here = #filePath
        return String(here[..<here.range(of: "/Tests/")!.lowerBound])
    }

    /// A host tree of `vms` libvirt QEMUs x `vcpus` vCPUs (scripts/gen-proc-tree.py bench).
    static func hostTree(in directory: String, vms: Int, vcpus: Int) throws -> String {
        let root = directory + "/host"
        let result = try run("/usr/bin/python3", [repository + "/scripts/gen-proc-tree.py", "bench", root, String(vms), String(vcpus)])
        guard result.status == 0 else { throw TestFailure("gen-proc-tree.py failed: \(result.output)") }
        return root
    }

    static func executable(_ name: String) -> String? {
        ["/usr/bin/", "/usr/local/bin/", "/bin/", "/usr/sbin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a program to its end: (exit status, stdout+stderr).
    @discardableResult
    static func run(_ path: String, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// curl: (HTTP status or 0, body, curl's exit status).
    static func curl(_ arguments: [String]) throws -> (http: Int, body: String, exit: Int32) {
        let marker = "\n--hvtax-status:"
        let result = try run("/usr/bin/curl", ["-sS", "--max-time", "10", "-w", marker + "%{http_code}"] + arguments)
        guard let range = result.output.range(of: marker, options: .backwards) else { return (0, result.output, result.status) }
        return (Int(result.output[range.upperBound...].prefix(3)) ?? 0, String(result.output[..<range.lowerBound]), result.status)
    }

    /// A port nothing listens on right now (bound and released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Polls `condition` every 100 ms up to `seconds`.
    static func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A running `hvtax serve`; its stderr (the log) is collected line by line.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var log = ""
    private(set) var address = ""

    /// Starts serve and waits until it listens (and, unless told not to, until /metrics has a sample).
    init(arguments: [String], waitForSample: Bool = true) throws {
        process.executableURL = URL(fileURLWithPath: ServeTestSupport.hvtax)
        process.arguments = ["serve", "--listen", "127.0.0.1:0"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.log += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        var found: String?
        _ = ServeTestSupport.waitFor(30) {
            found = self.text.range(of: #"listening on https?://[0-9.]+:[0-9]+"#, options: .regularExpression)
                .map { String(self.text[$0].split(separator: "/").last!) }
            return found != nil || !process.isRunning
        }
        guard let found else {
            process.terminate()
            throw TestFailure("hvtax serve did not start listening: \(text)")
        }
        address = found
        if waitForSample {
            let tls = text.contains("listening on https")
            _ = ServeTestSupport.waitFor(30) { (try? ServeTestSupport.curl(tls ? ["-k", "https://\(address)/metrics"] : ["http://\(address)/metrics"]))?.http != 503 }
        }
    }

    var text: String { lock.withLock { log } }

    var pid: Int32 { process.processIdentifier }

    /// SIGTERM and the exit status (graceful shutdown).
    func stop() -> Int32 {
        if process.isRunning { kill(pid, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
