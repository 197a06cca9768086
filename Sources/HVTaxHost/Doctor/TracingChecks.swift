import HVTaxModel

/// Can this host record the events hvtax analyses, and is anything left over from earlier runs.
enum TracingChecks {
    /// The events hvtax's analysis uses, with what each one gives it. kvm_exit and kvm_entry are
    /// the backbone (no capture without them on VT-x/AMD-V); the others refine the time split.
    static let hvtaxEvents: [(system: String, name: String, required: Bool)] = [
        ("kvm", "kvm_exit", true),
        ("kvm", "kvm_entry", true),
        ("kvm", "kvm_userspace_exit", false),
        ("kvm", "kvm_pio", false),
        ("kvm", "kvm_mmio", false),
        ("sched", "sched_switch", false),
        ("irq", "irq_handler_entry", false),
    ]

    static func tracefs(_ c: DoctorContext) -> Verdict {
        var sources = ["/proc/mounts"]
        if case .failure(let error) = c.mounts {
            return Verdict(.fail, "cannot tell: \(error)", remedy: "mount procfs: mount -t proc proc /proc", sources: sources)
        }
        guard let tracefs = c.tracefs else {
            // An absent mount point means a kernel without tracing, which no mount can fix.
            if !c.host.fs.isDirectory(Tracefs.defaultMountPoint),
                let config = try? c.kernelConfig.get(), config["CONFIG_FTRACE"]?.isEnabled != true
            {
                return Verdict(
                    .fail, "this kernel has no tracing support (CONFIG_FTRACE is off in \(config.source))",
                    remedy: "boot a kernel built with CONFIG_FTRACE=y", sources: sources + [config.source])
            }
            return Verdict(
                .fail, "not mounted (no tracefs in /proc/mounts, no tracing directory in debugfs)",
                remedy: Tracefs.mountCommand, sources: sources)
        }
        sources.append(tracefs.file("events"))
        let systems: [String]
        do { systems = try tracefs.eventSystems() } catch {
            return Verdict(
                .fail, "mounted at \(tracefs.path), but unreadable: \(error.cause)",
                remedy: error.isPermissionDenied ? "run as root (tracefs is root-only)" : "check \(tracefs.path)",
                sources: sources)
        }
        var facts = ["mounted at \(tracefs.path)"]
        if tracefs.access == .debugfsTracing { facts[0] += " (through debugfs)" }
        facts.append("readable, \(systems.count) event systems")
        sources.append(tracefs.file("trace_clock"))
        if let clock = try? tracefs.traceClock() { facts.append("trace_clock \(clock)") }
        facts.append(c.host.fs.isDirectory(tracefs.file("instances")) ? "instances supported" : "no instances directory")
        let detail = facts.joined(separator: ", ")
        if !c.isRoot {
            return Verdict(
                .warn, detail + "; enabling events and creating instances needs root",
                remedy: "run hvtax's capture as root", sources: sources)
        }
        if tracefs.access == .debugfsTracing {
            return Verdict(
                .pass, detail, remedy: "optional: also mount it at its own place: \(Tracefs.mountCommand)", sources: sources)
        }
        return Verdict(.pass, detail, sources: sources)
    }

    static func tracepoints(_ c: DoctorContext) -> Verdict {
        guard let tracefs = c.tracefs else {
            return Verdict(.warn, "not checked: tracefs is not mounted", remedy: Tracefs.mountCommand, sources: ["/proc/mounts"])
        }
        let sources = ["kvm", "sched", "irq"].map { tracefs.file("events/\($0)") }
        let kvmEvents: [String]
        do { kvmEvents = try tracefs.events(inSystem: "kvm") } catch {
            // The tracefs check already fails for an unreadable tracefs; one cause, one failure.
            if error.isPermissionDenied {
                return Verdict(.warn, "not checked: \(error)", remedy: "run as root", sources: sources)
            }
            let load = c.backend.moduleName.map { "modprobe \($0)" } ?? "load KVM (modprobe kvm_intel or kvm_amd)"
            return Verdict(
                .fail, error.isNotFound ? "no kvm event system: KVM is not loaded" : "cannot list kvm events: \(error.cause)",
                remedy: error.isNotFound ? load : "check \(tracefs.file("events/kvm"))", sources: sources)
        }
        let missing = hvtaxEvents.filter { !tracefs.hasEvent(system: $0.system, name: $0.name) }
        let present = hvtaxEvents.filter { tracefs.hasEvent(system: $0.system, name: $0.name) }.map(\.name)
        let pvmNote: String =
            if case .paravirtual(let module) = c.backend {
                "; kvm_exit and kvm_entry exist but do not fire with \(module)"
            } else { "" }
        let inAll = "\(kvmEvents.count) kvm events in all"
        if missing.isEmpty {
            return Verdict(
                .pass, "all \(present.count) that hvtax uses exist: \(present.joined(separator: ", ")) (\(inAll))\(pvmNote)",
                sources: sources)
        }
        let missingNames = missing.map { "\($0.system):\($0.name)" }.joined(separator: ", ")
        let detail = "missing \(missingNames); present: \(present.joined(separator: ", ")) (\(inAll))\(pvmNote)"
        if missing.contains(where: \.required) {
            return Verdict(
                .fail, detail, remedy: "use a kernel whose KVM has the kvm_exit/kvm_entry tracepoints (any since 2.6.x)",
                sources: sources)
        }
        return Verdict(
            .warn, detail, remedy: "the figures that need them (userspace exits, preemption, interrupts) will be marked unknown",
            sources: sources)
    }

    static func instances(_ c: DoctorContext) -> Verdict {
        guard let tracefs = c.tracefs else {
            return Verdict(.info, "not checked: tracefs is not mounted", sources: ["/proc/mounts"])
        }
        let directory = tracefs.file("instances")
        let names: [String]
        do { names = try tracefs.instances() } catch {
            if error.isNotFound {
                return Verdict(.info, "this kernel has no tracefs instances", sources: [directory])
            }
            return Verdict(.warn, "cannot list: \(error.cause)", remedy: "run as root", sources: [directory])
        }
        let processes = (try? c.host.procfs.processes()) ?? []
        var leftovers: [String] = []
        var inUse: [String] = []
        var foreign: [String] = []
        for name in names {
            guard HVTaxInstanceName.isHVTax(name) else {
                foreign.append(name)
                continue
            }
            // In use only while its owner still runs hvtax: a recycled PID running something else
            // does not keep a killed run's instance alive.
            if let pid = HVTaxInstanceName.ownerPID(name), processes.contains(where: { $0.pid == pid && $0.comm == "hvtax" }) {
                inUse.append(name)
            } else {
                leftovers.append(name)
            }
        }
        let sources = [directory, "/proc/PID/comm"]
        var parts: [String] = []
        if !leftovers.isEmpty {
            parts.append(
                "\(leftovers.count) left by killed hvtax runs: \(leftovers.joined(separator: ", ")) "
                    + "(each keeps its ring buffers and enabled events)")
        }
        if !foreign.isEmpty {
            parts.append(
                "\(foreign.count) not hvtax's: \(foreign.joined(separator: ", ")) (trace-cmd record -B, for one, leaves its "
                    + "instance behind when it fails)")
        }
        if !inUse.isEmpty { parts.append("in use by a running hvtax: \(inUse.joined(separator: ", "))") }
        if !leftovers.isEmpty {
            let paths = leftovers.map { Tracefs.join(directory, $0) }.joined(separator: " ")
            return Verdict(.warn, parts.joined(separator: "; "), remedy: "rmdir \(paths)", sources: sources)
        }
        if !foreign.isEmpty {
            let paths = foreign.map { Tracefs.join(directory, $0) }.joined(separator: " ")
            return Verdict(
                .info, parts.joined(separator: "; "), remedy: "if no tool is using them: rmdir \(paths)", sources: sources)
        }
        if !inUse.isEmpty { return Verdict(.pass, parts.joined(separator: "; "), sources: sources) }
        return Verdict(.pass, "none left behind", sources: sources)
    }

    static func debugfs(_ c: DoctorContext) -> Verdict {
        var sources = ["/proc/mounts"]
        let mountCommand = "mount -t debugfs none /sys/kernel/debug"
        let mounts = (try? c.mounts.get()) ?? []
        let purpose = "hvtax takes its counts from tracepoints and KVM's binary stats"
        guard let mount = mounts.mounts(ofType: "debugfs").first else {
            return Verdict(
                .warn, "not mounted: KVM's debugfs counters (kvm_stat's source) are unavailable; \(purpose) instead",
                remedy: mountCommand, sources: sources)
        }
        let kvmDirectory = Tracefs.join(mount.mountPoint, "kvm")
        sources.append(kvmDirectory)
        let files: [String]
        do { files = try c.host.fs.list(kvmDirectory) } catch {
            if error.isNotFound {
                return Verdict(
                    .warn, "mounted at \(mount.mountPoint), but it has no kvm directory (KVM not loaded)",
                    remedy: c.backend.moduleName.map { "modprobe \($0)" } ?? "load KVM", sources: sources)
            }
            return Verdict(
                .warn, "mounted at \(mount.mountPoint), but listing \(kvmDirectory) fails: \(error.cause)",
                remedy: error.isPermissionDenied ? "run as root" : nil, sources: sources)
        }
        // `exits` is the counter kvm_stat shows first; any regular file tells the same story.
        let counters = files.filter { (try? c.host.fs.status(Tracefs.join(kvmDirectory, $0)))?.kind == .regular }
        guard let counter = counters.contains("exits") ? "exits" : counters.first else {
            return Verdict(.warn, "mounted at \(mount.mountPoint), but \(kvmDirectory) holds no counters", sources: sources)
        }
        let counterPath = Tracefs.join(kvmDirectory, counter)
        sources.append(counterPath)
        do {
            let value = try c.host.fs.readValue(counterPath)
            return Verdict(
                .pass,
                "mounted at \(mount.mountPoint); \(counters.count) KVM counter\(counters.count == 1 ? "" : "s") readable "
                    + "(\(counter) = \(value))",
                sources: sources)
        } catch {
            return Verdict(
                .warn,
                "mounted at \(mount.mountPoint); \(kvmDirectory) has \(counters.count) counters, but reading \(counterPath) "
                    + "fails: \(error.cause)",
                remedy: "none needed: \(purpose); only kvm_stat's debugfs mode cannot work here", sources: sources)
        }
    }

    static func perf(_ c: DoctorContext) -> Verdict {
        let install = "apt-get install linux-perf (Debian) or linux-tools-$(uname -r) (Ubuntu)"
        switch c.host.tools.probe("perf", versionArguments: ["version"]) {
        case .notFound(let searched):
            return Verdict(
                .warn,
                "not found on PATH: perf script and perf kvm stat captures are unavailable (hvtax itself does not need perf)",
                remedy: install, sources: searched.map { Tracefs.join($0, "perf") })
        case .found(let path, .failure(let error)):
            if !c.host.fs.isLiveRoot {
                return Verdict(.info, "found at \(path); \(error.cause)", sources: [path])
            }
            return Verdict(
                .warn, "found at \(path), but `perf version` fails: \(error.cause)",
                remedy: "install the perf that matches kernel \(c.kernelRelease ?? "$(uname -r)"): \(install)",
                sources: [path + " version"])
        case .found(let path, .success(let version)):
            let sources = [path + " version", "/proc/sys/kernel/perf_event_paranoid"]
            let paranoid = (try? c.host.fs.readValue("/proc/sys/kernel/perf_event_paranoid")).flatMap { Int($0) }
            // System-wide tracepoint recording (perf record -a -e kvm:*) needs root, CAP_PERFMON or
            // perf_event_paranoid at -1.
            if !c.isRoot, let paranoid, paranoid > -1 {
                return Verdict(
                    .warn, "\(version) at \(path); perf_event_paranoid \(paranoid): system-wide kvm:* recording needs root",
                    remedy: "run perf as root, or sysctl -w kernel.perf_event_paranoid=-1", sources: sources)
            }
            return Verdict(.pass, "\(version) at \(path)", sources: sources)
        }
    }
}
