import Foundation
import HVTaxHost
import HVTaxModel
import Testing

/// Against a real libvirtd and a real KVM domain (Debian's libvirt-daemon-system, installed by
/// .ci/run): libvirt's own figures (`virsh domstats`) read at both ends of an interval and compared
/// by the validator with hvtax's reading of the same kernel counters. The daemons are started here
/// when none runs, and stopped again afterwards; the domain is transient and destroyed.
@Suite("validate against a real libvirt domain", .serialized)
struct LiveLibvirtTests {
    static let uri = "qemu:///system"

    func skip(_ reason: String) throws -> Never {
        print("skipped: \(reason)")
        try Test.cancel(Comment(rawValue: reason))
    }

    /// Runs a tool and collects its output; a daemon (`capture: false`) gets /dev/null instead, since
    /// its forked child would keep a pipe open for as long as it lives.
    @discardableResult
    static func run(_ path: String, _ arguments: [String], capture: Bool = true) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = capture ? pipe : FileHandle.nullDevice
        process.standardError = capture ? pipe : FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = capture ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// libvirtd and virtlogd, each started by the test when it is not running; those it started are
    /// stopped by pid afterwards (SIGTERM, then SIGKILL after 3 s).
    final class Daemons {
        var started: [Int32] = []
        init() throws {
            for (daemon, pidFile) in [("/usr/sbin/virtlogd", "/run/virtlogd.pid"), ("/usr/sbin/libvirtd", "/run/libvirtd.pid")] {
                if let pid = Self.pid(pidFile), kill(pid, 0) == 0 { continue }
                let status = Self.spawnDaemon(daemon)
                guard status == 0, let pid = Self.pid(pidFile) else {
                    throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(daemon) -d failed (wait status \(status))"])
                }
                started.append(pid)
            }
            for _ in 0..<50 where LiveLibvirtTests.run("/usr/bin/virsh", ["-c", uri, "uri"]).status != 0 { usleep(100_000) }
        }
        /// `daemon -d` through posix_spawn, waited for with waitpid: Foundation's Process never saw the
        /// daemonizing parent exit here (it stayed a zombie and the test hung). The daemon gets an
        /// empty signal mask and default handlers, since the test runner blocks SIGTERM and a daemon
        /// inheriting that would never stop on it.
        static func spawnDaemon(_ path: String) -> Int32 {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var empty = sigset_t()
            sigemptyset(&empty)
            posix_spawnattr_setsigmask(&attributes, &empty)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), strdup("-d"), nil]
            defer { for arg in argv { free(arg) } }
            var pid: pid_t = 0
            guard posix_spawn(&pid, path, &actions, &attributes, argv, environ) == 0 else { return -1 }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return status
        }

        static func pid(_ file: String) -> Int32? {
            (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        deinit {
            for pid in started.reversed() {
                kill(pid, SIGTERM)
                for _ in 0..<30 where kill(pid, 0) == 0 { usleep(100_000) }
                if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
            }
        }
    }

    @Test("libvirt's cpu_time, user/system, vcpu time and delay agree with the kernel counters; vcpu.N.wait without schedstats is explained; guest time seen as system time here")
    func libvirtDomain() throws {
        guard getuid() == 0 else { try skip("needs root to talk to libvirtd's system instance") }
        guard FileManager.default.fileExists(atPath: "/dev/kvm") else { try skip("no /dev/kvm on this machine") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/libvirtd"), FileManager.default.isExecutableFile(atPath: "/usr/bin/virsh") else {
            try skip("libvirt not installed (apt-get install libvirt-daemon-system libvirt-clients; .ci/run does)")
        }
        let daemons = try Daemons()
        defer { withExtendedLifetime(daemons) {} }
        let name = "hvtax-lv-\(getpid())"
        // No disk: the firmware runs (emulated, a few seconds of real vCPU work) and finds nothing to boot.
        // qemu64 with svm off: libvirt's qemu64 model asks for svm, which a paravirtual KVM host lacks.
        let xml = """
            <domain type='kvm'>
              <name>\(name)</name>
              <memory unit='MiB'>64</memory>
              <vcpu>2</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type></os>
              <cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model><feature policy='disable' name='svm'/></cpu>
              <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
            </domain>
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).xml").path
        try xml.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let created = Self.run("/usr/bin/virsh", ["-c", Self.uri, "create", file])
        try #require(created.status == 0, "virsh create: \(created.output)")
        defer { Self.run("/usr/bin/virsh", ["-c", Self.uri, "destroy", name]) }

        let sampler = LiveSampler(fs: .live)
        sampler.readsProcessTotals = true
        let virsh = VirshStatsReader(fs: .live, uri: Self.uri)
        var found: DiscoveredVM?
        for _ in 0..<50 {
            _ = try sampler.sample()
            found = sampler.vms.first { $0.name == name }
            if let f = found, f.vcpuThreads.count == 2 { break }
            usleep(100_000)
        }
        let vm = try #require(found, "discovery did not find the domain \(name)")
        #expect(vm.kind == .libvirt)
        #expect(vm.cgroup != nil, "libvirt gives the domain its own cgroup")

        var before = try sampler.sample()
        before.libvirt = virsh.read()
        try #require(before.libvirt?.available == true, "\(before.libvirt?.detail ?? "")")
        sleep(2)
        var after = try sampler.sample()
        after.libvirt = virsh.read()
        let validation = AccountingValidator(ticksPerSecond: sampler.ticksPerSecond, backend: sampler.backend)
            .validate(from: before, to: after, vms: sampler.vms.filter { $0.pid == vm.pid })
        let account = try #require(validation.vms.first)
        func comparison(_ source: AccountingSource) -> AccountingComparison? { account.comparisons.first { $0.source == source } }
        let lv = try #require(account.figures.libvirt)
        print("libvirt domain: schedstat \(account.figures.vcpuOnCPUNs) ns, cgroup \(account.figures.cgroupUsageNs ?? 0) ns, "
            + "libvirt cpu_time \(lv.cpuTimeNs ?? 0) user \(lv.userNs ?? 0) system \(lv.systemNs ?? 0) vcpu time \(lv.vcpuTimeNs ?? 0) "
            + "delay \(lv.vcpuDelayNs ?? 0) wait \(lv.vcpuWaitNs ?? 0)")
        try #require(account.figures.vcpuOnCPUNs > 200_000_000, "the firmware did not keep vCPU 0 busy for the interval")
        for source in [AccountingSource.libvirtCPUTime, .libvirtUserSystem, .libvirtVCPUTime, .cgroupUsage, .cgroupUserSystem, .threadStat] {
            #expect(comparison(source)?.state == .agrees, "\(source): \(comparison(source)?.explanation ?? "absent")")
        }
        if (account.figures.vcpuRunDelayNs) >= 10_000_000 {
            #expect(comparison(.libvirtVCPUDelay)?.state == .agrees, "\(comparison(.libvirtVCPUDelay)?.explanation ?? "")")
        }
        if !validation.environment.schedstatsAvailable, account.figures.vcpuRunDelayNs >= 10_000_000 {
            let wait = try #require(comparison(.libvirtVCPUWait))
            #expect(wait.state == .disagrees && wait.cause == .missingSchedstats)
            #expect(lv.vcpuWaitNs == 0)
        }
        if validation.environment.guestCodeEmulated {
            #expect(comparison(.guestTime)?.cause == .emulatedGuestAsSystem)
            // libvirt's user_time misses the guest entirely here: everything is system time.
            #expect((lv.systemNs ?? 0) > 10 * (lv.userNs ?? 0))
        }
    }
}
