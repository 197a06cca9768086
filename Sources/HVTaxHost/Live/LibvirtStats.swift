import Foundation

/// libvirt's own CPU figures for one domain at one instant, as `virsh domstats --cpu-total --vcpu`
/// prints them (all ns, cumulative). Which kernel counter each one is: docs/sources.md, "What
/// libvirt reports".
public struct LibvirtDomainStats: Sendable, Equatable {
    public var name: String
    /// cpu.time: the cgroup's cpuacct.usage / usage_usec (cpu-stats cpu_time).
    public var cpuTimeNs: UInt64?
    /// cpu.user, cpu.system: cpuacct.stat / user_usec, system_usec (cpu-stats user_time, system_time).
    public var userNs: UInt64?
    public var systemNs: UInt64?
    public var vcpus: [Int: LibvirtVCPUStats]

    public init(name: String, cpuTimeNs: UInt64? = nil, userNs: UInt64? = nil, systemNs: UInt64? = nil,
                vcpus: [Int: LibvirtVCPUStats] = [:]) {
        self.name = name
        self.cpuTimeNs = cpuTimeNs
        self.userNs = userNs
        self.systemNs = systemNs
        self.vcpus = vcpus
    }
}

public struct LibvirtVCPUStats: Sendable, Equatable {
    /// vcpu.N.time: utime+stime of the vCPU thread's stat (tick grained).
    public var timeNs: UInt64?
    /// vcpu.N.wait: wait_sum of the thread's sched file (0 without CONFIG_SCHEDSTATS).
    public var waitNs: UInt64?
    /// vcpu.N.delay: schedstat field 2 (libvirt >= 7.2).
    public var delayNs: UInt64?

    public init(timeNs: UInt64? = nil, waitNs: UInt64? = nil, delayNs: UInt64? = nil) {
        self.timeNs = timeNs
        self.waitNs = waitNs
        self.delayNs = delayNs
    }
}

/// One reading of every domain's stats, or why there is none.
public struct LibvirtStatsReading: Sendable, Equatable {
    public var domains: [String: LibvirtDomainStats]
    /// The command that produced it, or why libvirt's figures are absent ("virsh not installed").
    public var detail: String
    public var available: Bool
    /// CLOCK_MONOTONIC when virsh returned: libvirt read its counters at some instant before it,
    /// after hvtax's own sample, and the validator allows for the time between.
    public var readEndMonotonicNs: UInt64?

    public init(domains: [String: LibvirtDomainStats], detail: String, available: Bool, readEndMonotonicNs: UInt64? = nil) {
        self.domains = domains
        self.detail = detail
        self.available = available
        self.readEndMonotonicNs = readEndMonotonicNs
    }

    public static func unavailable(_ why: String) -> LibvirtStatsReading {
        LibvirtStatsReading(domains: [:], detail: why, available: false)
    }
}

/// The text of `virsh domstats`: a `Domain: 'NAME'` line, then indented `key=value` lines, a blank
/// line between domains (virsh(1), "domstats"). Keys hvtax does not use are skipped; a line of
/// another shape is an error naming its line number.
public enum LibvirtDomstatsParser {
    public static func parse(_ text: String, source: String = "virsh domstats") throws(HostError) -> [String: LibvirtDomainStats] {
        var out: [String: LibvirtDomainStats] = [:]
        var current: LibvirtDomainStats?
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("Domain:") {
                if let done = current { out[done.name] = done }
                var name = line.dropFirst("Domain:".count).trimmingCharacters(in: .whitespaces)
                if name.count >= 2, name.hasPrefix("'"), name.hasSuffix("'") { name = String(name.dropFirst().dropLast()) }
                guard !name.isEmpty else {
                    throw HostError(.parse, source, reason: "line \(offset + 1): expected Domain: 'NAME', got \(line)")
                }
                current = LibvirtDomainStats(name: name)
                continue
            }
            guard let equals = line.firstIndex(of: "="), current != nil else {
                throw HostError(.parse, source, reason: "line \(offset + 1): expected key=value after a Domain: line, got \(line)")
            }
            let key = line[..<equals]
            let value = UInt64(line[line.index(after: equals)...])
            switch key {
            case "cpu.time": current?.cpuTimeNs = value
            case "cpu.user": current?.userNs = value
            case "cpu.system": current?.systemNs = value
            default:
                // vcpu.N.time / .wait / .delay
                let parts = key.split(separator: ".")
                guard parts.count == 3, parts[0] == "vcpu", let index = Int(parts[1]) else { continue }
                var vcpu = current?.vcpus[index] ?? LibvirtVCPUStats()
                switch parts[2] {
                case "time": vcpu.timeNs = value
                case "wait": vcpu.waitNs = value
                case "delay": vcpu.delayNs = value
                default: continue
                }
                current?.vcpus[index] = vcpu
            }
        }
        if let done = current { out[done.name] = done }
        return out
    }
}

/// Runs `virsh domstats --cpu-total --vcpu` against the local system daemon. Only on the live host
/// (a fixture tree has no libvirt to ask).
public struct VirshStatsReader: Sendable {
    public let virsh: String?
    public let uri: String
    public let timeoutSeconds: Double

    public init(fs: HostFileSystem, uri: String = "qemu:///system", timeoutSeconds: Double = 5) {
        self.uri = uri
        self.timeoutSeconds = timeoutSeconds
        virsh = fs.isLiveRoot ? LiveToolProbe(fs: fs, searchPath: LiveToolProbe.environmentSearchPath() + ["/usr/bin", "/usr/sbin"]).locate("virsh") : nil
    }

    public var arguments: [String] { ["-c", uri, "domstats", "--cpu-total", "--vcpu"] }

    public func read() -> LibvirtStatsReading {
        guard let virsh else { return .unavailable("virsh not installed (Debian: libvirt-clients)") }
        let command = "virsh " + arguments.joined(separator: " ")
        switch LiveToolProbe.output(of: virsh, arguments: arguments, timeout: timeoutSeconds) {
        case .failure(let error):
            return .unavailable("\(command) failed: \(error.cause)")
        case .success(let text):
            do throws(HostError) {
                let domains = try LibvirtDomstatsParser.parse(text, source: command)
                return LibvirtStatsReading(domains: domains, detail: command, available: true,
                                           readEndMonotonicNs: LiveSampler.clockNs(CLOCK_MONOTONIC))
            } catch {
                return .unavailable("\(error)")
            }
        }
    }
}
