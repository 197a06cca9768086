import Foundation
import HVTaxTracefs

/// Recording kvm events in hvtax's own tracefs instance (main's `TracefsInstance`: `hvtax-PID-N`,
/// never the global buffer), removed on every way out of `body`, thrown errors included.
enum TracefsTestSupport {
    static func record<T>(events: [String], bufferKBPerCPU: Int, _ body: (TracefsInstance) throws -> T) throws -> T {
        let instance = try TracefsInstance(tracefs: try Tracefs.locate(mountIfAbsent: true))
        defer { try? instance.remove() }
        // Large enough for every event of the run: counts are compared exactly, so nothing may drop.
        try instance.write("buffer_size_kb", String(bufferKBPerCPU))
        // Only this test process: other suites run QEMU guests at the same time, and their exits
        // would fill this buffer too. event-fork adds the vCPU threads the test creates later.
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        try instance.write("set_event_pid", (tids.isEmpty ? [String(getpid())] : tids).joined(separator: " "))
        try instance.write("options/event-fork", "1")
        for event in events { try instance.enable(event: event) }
        return try body(instance)
    }

    /// Counts of each event per task: [tid: [event name: [detail: count]]], where the detail is
    /// what `detail` makes of the event's text after its name (e.g. "reason KVM_EXIT_IO (2)").
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
}

extension TracefsInstance {
    func stopRecording() throws {
        try write("tracing_on", "0")
    }

    /// Everything recorded, as the `trace` file prints it.
    func text() throws -> String {
        try Tracefs.read(file("trace"), limit: 1 << 30)
    }

    /// Events lost because a per-CPU buffer filled (overrun + dropped, all CPUs).
    func lostEvents() throws -> Int {
        var lost = 0
        for cpu in Tracefs.directoryEntries(file("per_cpu")) {
            for line in try read("per_cpu/\(cpu)/stats").split(separator: "\n")
            where line.hasPrefix("overrun:") || line.hasPrefix("dropped events:") {
                lost += Int(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return lost
    }
}
