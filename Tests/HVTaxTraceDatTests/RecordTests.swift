import Foundation
import Testing
import HVTaxTrace
@testable import HVTaxTracefs
import HVTaxEvents
import HVTaxPipeline

/// A guest of 17 bytes of real-mode code, as a 64 KiB -bios image: the reset vector jumps to
/// F000:0000, which loops `out 0x99, al; mov [0], al; inc ax`. Every iteration is one port write
/// that KVM hands to QEMU (kvm_pio + kvm_userspace_exit KVM_EXIT_IO), with values 0, 1, 2, ...
func tinyGuestImage() -> [UInt8] {
    var image = [UInt8](repeating: 0xf4, count: 65536)
    let code: [UInt8] = [0x31, 0xc0, 0xba, 0x99, 0x00, 0xb9, 0x00, 0xe0, 0x8e, 0xd9, 0xee, 0xa2, 0x00, 0x00, 0x40, 0xeb, 0xf9]
    image.replaceSubrange(0..<code.count, with: code)
    image.replaceSubrange(0xfff0..<0xfff5, with: [0xea, 0x00, 0x00, 0x00, 0xf0])
    return image
}

/// Why a real recording cannot run here, or nil when it can.
func recordingUnavailable() -> String? {
    if getuid() != 0 { return "not root" }
    if !FileManager.default.fileExists(atPath: "/dev/kvm") { return "no /dev/kvm" }
    if !FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-x86_64") {
        return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    }
    if (try? Tracefs.locate()) == nil { return "tracefs is not mounted and cannot be mounted" }
    return nil
}

/// A running QEMU with the tiny guest; killed when the test is done.
final class TinyGuest {
    let process: Child
    let directory: String
    let name: String

    init(name: String) throws {
        self.name = name
        directory = FileManager.default.temporaryDirectory.path + "/hvtax-guest-\(getpid())-\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(tinyGuestImage()).write(to: URL(fileURLWithPath: directory + "/guest.bin"))
        guard let child = Child.spawn("/usr/bin/qemu-system-x86_64", [
            "-enable-kvm", "-cpu", "qemu64", "-name", "guest=\(name),debug-threads=on", "-display", "none",
            "-nodefaults", "-no-reboot", "-m", "16", "-bios", directory + "/guest.bin"]) else {
            throw TracefsError(path: "/usr/bin/qemu-system-x86_64", action: "spawn", problem: "failed")
        }
        process = child
        // Wait until the vCPU thread exists and runs.
        for _ in 0..<100 where !ProcessTable.threads(of: process.pid).contains(where: {
            ProcessTable.command(of: process.pid, thread: $0) == "CPU 0/KVM" }) {
            usleep(50_000)
        }
        usleep(200_000)
    }

    var vcpuThread: Int32? {
        ProcessTable.threads(of: process.pid).first {
            ProcessTable.command(of: process.pid, thread: $0) == "CPU 0/KVM"
        }
    }

    deinit {
        process.signal(SIGKILL)
        _ = process.wait()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Whether the instance a recorder named is still there (other suites make their own).
func instanceExists(_ name: String) -> Bool {
    guard let tracefs = try? Tracefs.locate() else { return false }
    return Tracefs.exists(tracefs.path("instances/" + name))
}

/// The instances a recorder running as `pid` (another process) may have left.
func hvtaxInstances(of pid: Int32) -> [String] {
    guard let tracefs = try? Tracefs.locate() else { return [] }
    return Tracefs.directoryEntries(tracefs.path("instances")).filter { $0 == "hvtax-\(pid)" || $0.hasPrefix("hvtax-\(pid)-") }
}

@Suite("hvtax record (real tracefs, real QEMU guest)", .serialized)
struct RecordTests {
    @Test("records what the guest did, trace-cmd reads the file, nothing is left behind")
    func recordsTheGuest() throws {
        if let reason = recordingUnavailable() {
            print("skipped: \(reason)")
            return
        }
        let guest = try TinyGuest(name: "hvtax-rec-\(getpid())")
        let vcpu = try #require(guest.vcpuThread, "QEMU's vCPU thread did not start")
        let path = guest.directory + "/trace.dat"
        #expect(try Recorder.resolveVM(named: guest.name) == guest.process.pid)
        var options = RecordOptions(output: path)
        options.durationNs = 700_000_000
        options.pid = guest.process.pid
        let summary = try Recorder(options: options).record()
        #expect(!instanceExists(summary.instance), "instance left behind")
        #expect(summary.stoppedBy == "duration")
        #expect(summary.filteredThreads.contains(vcpu))
        #expect(summary.cpus.reduce(0) { $0 + $1.pages } > 0)
        #expect(summary.cpuTimeNs > 0)

        // Our reader: every KVM_EXIT_IO comes from the vCPU thread, named by its thread name.
        let symbols = SymbolTable()
        let reader = try TraceDatReader(path: path, symbols: symbols)
        var userspaceExits = 0, pio = 0, lost = 0, switches = 0
        while let e = try reader.next() {
            switch e.kind {
            case .userspaceExit:
                userspaceExits += 1
                #expect(e.tid == vcpu && e.code == 2)
                #expect(symbols.names.string(e.comm) == "CPU 0/KVM")
            case .pio:
                pio += 1
                #expect(e.tid == vcpu && e.code == 0x99 && e.flags.contains(.write))
            case .lost: lost += 1
            case .schedSwitch: switches += 1
            default: break
            }
        }
        #expect(userspaceExits > 1000, "the guest's port writes did not reach userspace")
        // The recording may stop between a kvm_pio and its kvm_userspace_exit.
        #expect(abs(pio - userspaceExits) <= 1)
        #expect(reader.diagnostics.malformedLines == 0)

        // The report names the vCPU: from kvm_entry's vcpu_id where it fires, else (paravirtual KVM,
        // as on this machine) from QEMU's thread name, saying so.
        let report = try TraceReportPipeline.run(paths: [path])
        let reported = try #require(report.vms.flatMap(\.vcpus).first { $0.tid == vcpu }, "the vCPU thread is not in the report")
        #expect(reported.vcpu == 0)
        #expect(reported.thread == "CPU 0/KVM")
        let fromName = report.quality.notes.contains { $0.hasPrefix("vCPU ids of 1 thread come from the thread names") }
        #expect(fromName == (report.quality.eventsByKind["kvm_entry", default: 0] == 0))

        // The port table (perf kvm stat --event=ioport's): each of the guest's writes to port 0x99
        // is one access, and each went on to QEMU. Where kvm_entry does not fire (paravirtual KVM,
        // as here) no access can get a latency, and the table says so rather than guess one.
        let accesses = try #require(report.host.exits.accesses, "kvm_pio events but no port I/O table")
        #expect(accesses.map(\.key) == ["0x99:POUT"])
        let port = try #require(accesses.first)
        #expect(port.count == UInt64(pio))
        // The recording may stop between the last kvm_pio and its kvm_userspace_exit.
        #expect(port.count - (port.throughVMM ?? 0) <= 1)
        if report.quality.eventsByKind["kvm_entry", default: 0] == 0 {
            #expect(port.unfinished == port.count && port.latency.count == 0)
        } else {
            #expect(port.latency.count + port.unfinished == port.count)
        }

        // trace-cmd agrees event for event, and the port values count up as the guest's loop does.
        guard let (status, text) = try run(["trace-cmd", "report", path]) else {
            print("trace-cmd is not installed: file not cross-checked")
            return
        }
        #expect(status == 0)
        let pioLines = text.split(separator: "\n").filter { $0.contains("kvm_pio:") }
        #expect(pioLines.count == pio)
        #expect(text.split(separator: "\n").filter { $0.contains("kvm_userspace_exit:") }.count == userspaceExits)
        let values = pioLines.compactMap { line -> UInt8? in
            guard line.contains("pio_write at 0x99 size 1"), let range = line.range(of: "val 0x") else { return nil }
            return UInt8(line[range.upperBound...].prefix { $0.isHexDigit }, radix: 16)
        }
        #expect(values.count == pioLines.count, "a kvm_pio that is not the guest's write to port 0x99")
        if lost == 0 {
            let steps = zip(values, values.dropFirst()).filter { $1 != $0 &+ 1 }
            #expect(steps.isEmpty, "port values skipped: \(steps.prefix(3))")
        }
        #expect(try readerLines(path) == (try reportLines(path) ?? []))
    }

    @Test("SIGINT and SIGTERM end a recording cleanly: file written, instance removed", arguments: [SIGINT, SIGTERM])
    func signalsEndRecording(signal: Int32) throws {
        if let reason = recordingUnavailable() {
            print("skipped: \(reason)")
            return
        }
        let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/hvtax").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            print("skipped: \(binary) is not built (swift build)")
            return
        }
        let guest = try TinyGuest(name: "hvtax-sig-\(getpid())-\(signal)")
        let path = guest.directory + "/sig.dat"
        let recorder = try #require(Child.spawn(binary, ["record", "--vm", guest.name, "--events", "minimal", "-o", path]))
        usleep(1_000_000)
        recorder.signal(signal)
        #expect(recorder.wait() == 0)
        #expect(hvtaxInstances(of: recorder.pid).isEmpty, "instance left behind after signal \(signal)")
        let file = try TraceDatFile(path: path)
        #expect(file.cpuStats.count == file.cpuData.count)
        let reader = try TraceDatReader(file: file, symbols: SymbolTable())
        var count = 0
        while try reader.next() != nil { count += 1 }
        #expect(count > 0)
    }

    @Test("a stale instance of a killed run is removed by the next run")
    func staleInstances() throws {
        if getuid() != 0 {
            print("skipped: not root")
            return
        }
        guard let tracefs = try? Tracefs.locate() else {
            print("skipped: no tracefs")
            return
        }
        // A pid above pid_max's default cannot be alive.
        var dead: Int32 = 4_194_000
        while kill(dead, 0) == 0 || errno == EPERM { dead -= 1 }
        let path = tracefs.path("instances/hvtax-\(dead)")
        // Any recording that starts in another suite meanwhile removes stale instances too: when it
        // takes this one first (gone, and not in what cleanStale says it removed), try again.
        var removedHere = false
        for _ in 0..<5 where !removedHere {
            #expect(mkdir(path, 0o750) == 0)
            try? Tracefs.write(path + "/events/sched/sched_switch/enable", "1")
            // Other runs on this machine may have left their own: look for ours only.
            let found = TracefsInstance.stale(in: tracefs).contains { $0.pid == dead }
            let removed = try TracefsInstance.cleanStale(in: tracefs)
            removedHere = found && removed.contains { $0.name == "hvtax-\(dead)" }
            #expect(!Tracefs.exists(path))
        }
        #expect(removedHere, "cleanStale removed the dead run's instance")
        // An instance another run removed first is no failure (two runs starting together).
        #expect(try TracefsInstance.removeIfPresent(path: path) == false)
        // A live process's instance (ours) is not stale; two in one process get their own names.
        let mine = try TracefsInstance(tracefs: tracefs)
        let second = try TracefsInstance(tracefs: tracefs)
        #expect(mine.name != second.name)
        #expect(!TracefsInstance.stale(in: tracefs).contains { $0.name == mine.name || $0.name == second.name })
        try second.remove()
        try mine.remove()
        #expect(!Tracefs.exists(mine.path))
    }
}
