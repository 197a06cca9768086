import Foundation
import HVTaxHost

#if canImport(Glibc)
import Glibc
#endif

/// A tracefs instance of the tests' own (never the global buffer), removed afterwards whatever happens.
///
/// Instances follow hvtax's naming (`hvtax-PID-test-N`, see HVTaxInstanceName), so `hvtax doctor`
/// can tell whose they are; leftovers of a killed test run (PID gone) are removed on the next
/// creation, so a crash cannot leave them behind for good.
final class TestTracefsInstance {
    static let root = "/sys/kernel/tracing"
    let path: String
    private var removed = false

    struct TracefsError: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `body` with a fresh instance recording `events` (e.g. "kvm/kvm_pio"), and removes the
    /// instance on every path out, thrown errors included.
    static func with<T>(events: [String], bufferKBPerCPU: Int, _ body: (TestTracefsInstance) throws -> T) throws -> T {
        let instance = try TestTracefsInstance(bufferKBPerCPU: bufferKBPerCPU)
        defer { instance.remove() }
        for event in events { try instance.write("1", to: "events/\(event)/enable") }
        return try body(instance)
    }

    private init(bufferKBPerCPU: Int) throws {
        try TestTracefsInstance.mountIfNeeded()
        TestTracefsInstance.removeStale()
        let name = HVTaxInstanceName.make(pid: getpid(), suffix: "test-\(UInt32.random(in: 0...UInt32.max))")
        path = "\(TestTracefsInstance.root)/instances/\(name)"
        guard mkdir(path, 0o755) == 0 else {
            throw TracefsError(description: "mkdir \(path): \(String(cString: strerror(errno)))")
        }
        try write(String(bufferKBPerCPU), to: "buffer_size_kb")
    }

    deinit {
        remove()
    }

    func remove() {
        guard !removed else { return }
        removed = true
        // Disabling tracing first makes rmdir cheap; rmdir is what frees the buffers.
        _ = try? write("0", to: "tracing_on")
        rmdir(path)
    }

    func write(_ value: String, to file: String) throws {
        let fd = open("\(path)/\(file)", O_WRONLY | O_TRUNC)
        guard fd >= 0 else { throw TracefsError(description: "open \(path)/\(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else {
            throw TracefsError(description: "write \(value) to \(path)/\(file): \(String(cString: strerror(errno)))")
        }
    }

    func stopRecording() throws {
        try write("0", to: "tracing_on")
    }

    /// The recorded events as text (the `trace` file), read until EOF: tracefs files report size 0,
    /// and a single large read returns only part of them.
    func text() throws -> String {
        guard let bytes = try? HostFileSystem.live.read("\(path)/trace", limit: 1 << 30) else {
            throw TracefsError(description: "cannot read \(path)/trace")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Events lost because a per-CPU buffer filled (overrun + dropped, all CPUs).
    func lostEvents() throws -> Int {
        var lost = 0
        let perCPU = "\(path)/per_cpu"
        for cpu in try FileManager.default.contentsOfDirectory(atPath: perCPU) {
            let stats = try String(contentsOfFile: "\(perCPU)/\(cpu)/stats", encoding: .utf8)
            for line in stats.split(separator: "\n") where line.hasPrefix("overrun:") || line.hasPrefix("dropped events:") {
                lost += Int(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return lost
    }

    /// Counts of each event per task, from the text: [tid: [event name: [detail: count]]], where the
    /// detail is the event's text after its name (e.g. "reason KVM_EXIT_IO (2)").
    ///
    /// Works on the raw bytes: a 10-second workload records over 100,000 lines, and String slicing
    /// per line is far too slow for that in a debug build.
    static func countByTask(_ text: String, detail: (String, Substring) -> String) -> [Int32: [String: [String: Int]]] {
        var counts: [Int32: [String: [String: Int]]] = [:]
        var utf8 = text
        utf8.withUTF8 { bytes in
            var lineStart = 0
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
                defer { lineStart = lineEnd + 1 }
                // "  CPU 0/KVM-1234    [001] .....  12.345678: kvm_pio: pio_write at 0xf0 ..."
                guard lineEnd > lineStart, bytes[lineStart] != UInt8(ascii: "#") else { continue }
                var bracket = lineStart
                while bracket + 1 < lineEnd && !(bytes[bracket] == UInt8(ascii: " ") && bytes[bracket + 1] == UInt8(ascii: "[")) {
                    bracket += 1
                }
                var digitsEnd = bracket
                while digitsEnd > lineStart && bytes[digitsEnd - 1] == UInt8(ascii: " ") { digitsEnd -= 1 }
                var digitsStart = digitsEnd
                while digitsStart > lineStart, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[digitsStart - 1]) {
                    digitsStart -= 1
                }
                guard digitsStart < digitsEnd, digitsStart > lineStart, bytes[digitsStart - 1] == UInt8(ascii: "-") else { continue }
                var tid: Int32 = 0
                for index in digitsStart..<digitsEnd { tid = tid * 10 + Int32(bytes[index] - UInt8(ascii: "0")) }
                // The event name follows the timestamp's ": " and ends at the next ':'.
                var cursor = bracket
                while cursor + 1 < lineEnd && !(bytes[cursor] == UInt8(ascii: ":") && bytes[cursor + 1] == UInt8(ascii: " ")) {
                    cursor += 1
                }
                let nameStart = cursor + 2
                var nameEnd = nameStart
                while nameEnd < lineEnd && bytes[nameEnd] != UInt8(ascii: ":") { nameEnd += 1 }
                guard nameEnd < lineEnd else { continue }
                var bodyStart = nameEnd + 1
                while bodyStart < lineEnd && bytes[bodyStart] == UInt8(ascii: " ") { bodyStart += 1 }
                let event = String(decoding: UnsafeBufferPointer(rebasing: bytes[nameStart..<nameEnd]), as: UTF8.self)
                let body = Substring(String(decoding: UnsafeBufferPointer(rebasing: bytes[bodyStart..<lineEnd]), as: UTF8.self))
                counts[tid, default: [:]][event, default: [:]][detail(event, body), default: 0] += 1
            }
        }
        return counts
    }

    private static func mountIfNeeded() throws {
        if access("\(root)/instances", F_OK) == 0 { return }
        guard mount("nodev", root, "tracefs", 0, nil) == 0 else {
            throw TracefsError(description: "tracefs is not mounted at \(root) and mounting it failed: "
                + String(cString: strerror(errno)))
        }
    }

    private static func removeStale() {
        let instances = "\(root)/instances"
        for name in (try? HostFileSystem.live.list(instances)) ?? [] where name.contains("-test-") {
            guard let pid = HVTaxInstanceName.ownerPID(name), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { rmdir("\(instances)/\(name)") }
        }
    }
}
