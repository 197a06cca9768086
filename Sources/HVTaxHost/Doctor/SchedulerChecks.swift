import HVTaxModel

/// What the scheduler exposes and how the CPUs are shared: these decide how preemption (steal)
/// is measured and how noisy the figures are.
enum SchedulerChecks {
    static func schedInfo(_ c: DoctorContext) -> Verdict {
        let config = try? c.kernelConfig.get()
        var sources = ["/proc/self/schedstat"]
        if let config { sources.append(config.source) }
        let configured = config.map { describe($0, "CONFIG_SCHED_INFO") }
        if (try? c.host.fs.readValue("/proc/self/schedstat")) != nil {
            let why = configured.map { " (\($0))" } ?? ""
            return Verdict(
                .pass, "/proc/PID/task/TID/schedstat present\(why): per-thread on-CPU and run-queue wait in ns",
                sources: sources)
        }
        let why = configured ?? "CONFIG_SCHED_INFO is off"
        return Verdict(
            .warn, "no /proc/PID/schedstat (\(why)): a vCPU's run-queue wait (steal) comes only from sched_switch traces",
            remedy: "use a kernel with CONFIG_SCHED_INFO=y (CONFIG_SCHEDSTATS=y selects it)", sources: sources)
    }

    static func schedStats(_ c: DoctorContext) -> Verdict {
        let config = try? c.kernelConfig.get()
        let sysctl = "/proc/sys/kernel/sched_schedstats"
        var sources = [sysctl]
        if let config { sources.insert(config.source, at: 0) }
        let switchValue = try? c.host.fs.readValue(sysctl)
        let consequence = "/proc/PID/sched has no wait_sum/wait_count (libvirt's vcpu.N.wait)"
        let fallback = "hvtax uses schedstat's run-queue delay instead"
        // The sysctl exists exactly when CONFIG_SCHEDSTATS is built, so it settles the question when
        // the kernel's config is not available.
        let built: Bool
        if let config {
            built = config["CONFIG_SCHEDSTATS"]?.isEnabled == true
        } else {
            built = switchValue != nil
        }
        guard built else {
            let evidence = config.map { "\(describe($0, "CONFIG_SCHEDSTATS"))" } ?? "no kernel config, no \(sysctl)"
            return Verdict(
                .warn, "not built (\(evidence)): \(consequence)",
                remedy: "\(fallback); for wait_sum use a kernel with CONFIG_SCHEDSTATS=y", sources: sources)
        }
        switch switchValue {
        case "1":
            return Verdict(.pass, "built and on (kernel.sched_schedstats = 1)", sources: sources)
        case let value?:
            return Verdict(
                .warn, "built but off (kernel.sched_schedstats = \(value)): wait_sum stays 0",
                remedy: "sysctl -w kernel.sched_schedstats=1 (a small scheduler cost)", sources: sources)
        case nil:
            return Verdict(
                .warn, "built, but \(sysctl) is unreadable", remedy: "check that procfs is mounted", sources: sources)
        }
    }

    static func isolation(_ c: DoctorContext) -> Verdict {
        let isolatedPath = "/sys/devices/system/cpu/isolated"
        let nohzPath = "/sys/devices/system/cpu/nohz_full"
        let sources = ["/proc/cmdline", isolatedPath, nohzPath]
        let cmdline = try? c.commandLine.get()
        let isolated: CPUList?
        let nohz: CPUList?
        do {
            isolated = try c.host.sysfs.cpuList(isolatedPath)
            nohz = try c.host.sysfs.cpuList(nohzPath)
        } catch {
            return Verdict(.warn, "cannot tell: \(error)", sources: sources)
        }
        let cpus = (try? c.cpuInfo.get())?.processorCount ?? 0
        let isolcpusArg = cmdline?.value("isolcpus")
        let nohzArg = cmdline?.value("nohz_full")
        // The sysfs file exists only when the kernel is built with CONFIG_NO_HZ_FULL.
        if let nohzArg, nohz == nil {
            return Verdict(
                .warn, "nohz_full=\(nohzArg) is on the command line but ignored: the kernel lacks CONFIG_NO_HZ_FULL",
                remedy: "boot a kernel with CONFIG_NO_HZ_FULL=y, or drop nohz_full=", sources: sources)
        }
        var parts: [String] = []
        if let isolated, !isolated.isEmpty {
            parts.append("isolated CPUs \(isolated)" + (isolcpusArg.map { " (isolcpus=\($0))" } ?? ""))
        }
        if let nohz, !nohz.isEmpty { parts.append("nohz_full \(nohz)") }
        if !parts.isEmpty {
            return Verdict(.pass, parts.joined(separator: ", ") + ": pin vCPU threads there", sources: sources)
        }
        let noNohz = nohz == nil ? " (kernel without CONFIG_NO_HZ_FULL)" : ""
        let share = cpus > 0 ? "all \(cpus) CPUs" : "every CPU"
        let isolatedFile = isolated == nil ? "no \(isolatedPath)" : "\(isolatedPath) is empty"
        return Verdict(
            .info,
            "none: no isolcpus/nohz_full on the command line\(noNohz), \(isolatedFile); vCPU threads share "
                + "\(share) with host work, so expect preemption",
            remedy: "optional, for quieter figures: boot with isolcpus=... nohz_full=... and pin vCPU threads there",
            sources: sources)
    }

    static func irqbalance(_ c: DoctorContext) -> Verdict {
        let sources = ["/proc/*/comm"]
        let processes: [(pid: Int32, comm: String)]
        do { processes = try c.host.procfs.processes() } catch {
            return Verdict(.warn, "cannot list processes: \(error)", sources: sources)
        }
        let running = processes.filter { $0.comm == "irqbalance" }
        guard !running.isEmpty else {
            return Verdict(.pass, "not running: interrupts stay on the CPUs they are set to", sources: sources)
        }
        let pids = running.map { String($0.pid) }.joined(separator: ", ")
        return Verdict(
            .info, "running (pid \(pids)): it may move interrupts between CPUs during a measurement",
            remedy: "for steady interrupt placement stop it while measuring: systemctl stop irqbalance", sources: sources)
    }

    /// "CONFIG_X=y in /proc/config.gz" or "# CONFIG_X is not set in ...".
    static func describe(_ config: KernelConfig, _ name: String) -> String {
        switch config[name] {
        case .builtIn?: "\(name)=y in \(config.source)"
        case .module?: "\(name)=m in \(config.source)"
        case .other(let value)?: "\(name)=\(value) in \(config.source)"
        case .notSet?, nil: "\(name) is not set in \(config.source)"
        }
    }
}
