import Foundation
import Testing

/// A real QEMU for the live tests: KVM, `-cpu qemu64`, no devices, its threads named
/// (`debug-threads=on`) so that discovery and the tests find its vCPUs. Killed and reaped when it
/// goes away, however the test ends.
final class RunningQEMU {
    static let executable = "/usr/bin/qemu-system-x86_64"

    /// Why no QEMU can run here, or nil when one can.
    static var unavailableReason: String? {
        if !FileManager.default.fileExists(atPath: "/dev/kvm") { return "no /dev/kvm on this machine" }
        if !FileManager.default.isExecutableFile(atPath: executable) {
            return "\(executable) not installed (apt-get install qemu-system-x86; .ci/run does)"
        }
        return nil
    }

    let process = Process()
    let vcpus: Int

    init(name: String, vcpus: Int = 2) throws {
        self.vcpus = vcpus
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["-enable-kvm", "-cpu", "qemu64", "-name", "guest=\(name),debug-threads=on", "-display", "none",
                             "-nodefaults", "-m", "64", "-smp", String(vcpus)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    deinit { stop() }

    /// Kills and reaps QEMU (idempotent).
    func stop() {
        guard process.isRunning else { return }
        // SIGKILL, not SIGTERM: QEMU started from the test runner inherits a mask with SIGTERM
        // blocked and then never exits on it (seen here: SIGTERM pending, the run hung).
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// vCPU index -> thread id, read from /proc/PID/task/*/comm (`CPU N/KVM`) without any hvtax code,
    /// once QEMU has named all its vCPU threads (it does when the machine is set up); at most `timeoutSeconds`.
    func vcpuThreads(timeoutSeconds: Double = 30) throws -> [Int: Int32] {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var found: [Int: Int32] = [:]
        while Date() < deadline {
            found = [:]
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            for task in tasks {
                guard let tid = Int32(task),
                      let comm = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8) else { continue }
                let words = comm.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
                if words.count == 2, words[0] == "CPU", words[1].hasSuffix("/KVM"), let index = Int(words[1].dropLast(4)) {
                    found[index] = tid
                }
            }
            if found.count == vcpus { return found }
            usleep(50_000)
        }
        throw LiveTestFailure("QEMU pid \(pid) named \(found.count) of \(vcpus) vCPU threads in \(timeoutSeconds) s")
    }
}

/// Prints why a live test cannot run here and cancels it: the reason shows even where the test
/// output hides cancellation comments.
func skipLiveTest(_ reason: String) throws -> Never {
    print("skipped: \(reason)")
    try Test.cancel(Comment(rawValue: reason))
}

struct LiveTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
