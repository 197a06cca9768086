import Foundation

/// A hand-written trace in the kernel's text format for one vCPU thread, each line at a time given
/// in microseconds after 1 s (so under 1,000,000): what tests with an exactly known answer build.
public struct VCPUTraceText {
    public let prefix: String
    public private(set) var lines: [String] = []

    public init(thread: String = "CPU 0/KVM", tid: Int32 = 101, pid: Int32 = 100, cpu: Int = 0) {
        prefix = "       \(thread)-\(tid)     (    \(pid)) [\(String(format: "%03d", cpu))] d.... "
    }

    /// `body` is the event and its fields: `kvm_entry: vcpu 0, rip 0x1`.
    public mutating func at(_ microseconds: Int, _ body: String) {
        precondition(microseconds < 1_000_000, "times are microseconds after 1 s")
        lines.append(prefix + String(format: "1.%06d: ", microseconds) + body)
    }

    public func write(to path: String) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}
