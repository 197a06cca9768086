import HVTaxModel

/// Memory backing, CPU accounting and whether this host is itself a guest.
enum HostChecks {
    static func hugepages(_ c: DoctorContext) -> Verdict {
        let thpPath = "/sys/kernel/mm/transparent_hugepage/enabled"
        let sources = ["/proc/meminfo", thpPath]
        let meminfo: MemInfo
        do { meminfo = try c.host.procfs.memInfo() } catch {
            return Verdict(.warn, "cannot tell: \(error)", sources: sources)
        }
        let total = meminfo["HugePages_Total"] ?? 0
        let sizeKB = meminfo["Hugepagesize"]
        let thp = try? c.host.sysfs.selectedChoice(thpPath)
        let pages = "HugePages_Total \(total)" + (sizeKB.map { " (\($0) kB pages)" } ?? "")
        let thpText = thp.map { "transparent_hugepage [\($0)]" } ?? "no transparent hugepages"
        let detail = "\(pages); \(thpText)"
        if total > 0 {
            let gib = Double(total * (sizeKB ?? 0)) / 1_048_576
            return Verdict(
                .pass, detail + "; \(formatGiB(gib)) GiB reserved for hugetlbfs-backed guest RAM", sources: sources)
        }
        if thp == "always" || thp == "madvise" {
            // QEMU madvise()s guest RAM for huge pages, so `madvise` is enough for it.
            return Verdict(.pass, detail + ": guest RAM can be backed by 2 MB pages (QEMU madvises it)", sources: sources)
        }
        return Verdict(
            .warn, detail + ": guest RAM is backed by 4 kB pages, so two-dimensional page walks miss the TLB more",
            remedy: "echo madvise > \(thpPath), or reserve pages: sysctl -w vm.nr_hugepages=N", sources: sources)
    }

    static func cgroups(_ c: DoctorContext) -> Verdict {
        var sources = ["/proc/mounts"]
        let mounts: [MountEntry]
        switch c.mounts {
        case .success(let value): mounts = value
        case .failure(let error): return Verdict(.warn, "cannot tell: \(error)", sources: sources)
        }
        let v1 = mounts.mounts(ofType: "cgroup").map { mount in
            (point: mount.mountPoint, controllers: mount.options.filter { v1Controllers.contains($0) || $0.hasPrefix("name=") })
        }
        let v2 = mounts.mounts(ofType: "cgroup2").map(\.mountPoint)
        let v1Names = v1.flatMap(\.controllers)
        var parts: [String] = []
        if !v1.isEmpty { parts.append("v1 hierarchies \(v1Names.joined(separator: ", "))") }
        var v2Controllers: [String] = []
        for point in v2 {
            let file = Tracefs.join(point, "cgroup.controllers")
            sources.append(file)
            let controllers = (try? c.host.fs.readValue(file)).map { $0.split(separator: " ").map(String.init) } ?? []
            v2Controllers += controllers
            let list = controllers.isEmpty ? "no controllers" : "controllers: \(controllers.joined(separator: " "))"
            parts.append("v2 at \(point) (\(list))")
        }
        let mode =
            switch (v1.isEmpty, v2.isEmpty) {
            case (true, true): "none"
            case (true, false): "v2 (unified)"
            case (false, true): "v1 (legacy)"
            case (false, false): "hybrid"
            }
        if mode == "none" {
            return Verdict(
                .warn, "no cgroup file system mounted: per-VM CPU accounting is unavailable",
                remedy: "mount -t cgroup2 none /sys/fs/cgroup", sources: sources)
        }
        // cpuacct.usage (v1) or cpu.stat (v2) is where a VM's whole CPU time is read; v2's cpu.stat
        // usage_usec is there even without the cpu controller, but user/system split needs it.
        let accounting =
            v1Names.contains("cpuacct") ? "per-VM CPU time from v1 cpuacct"
            : !v2.isEmpty ? "per-VM CPU time from v2 cpu.stat" : "no cpuacct controller: no per-VM CPU time"
        let detail = "\(mode): \(parts.joined(separator: "; ")); \(accounting)"
        if v1.isEmpty == false && !v1Names.contains("cpuacct") && v2.isEmpty {
            return Verdict(
                .warn, detail, remedy: "mount the cpuacct controller: mount -t cgroup -o cpuacct none /sys/fs/cgroup/cpuacct",
                sources: sources)
        }
        return Verdict(.pass, detail, sources: sources)
    }

    static let v1Controllers: Set<String> = [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio", "blkio", "perf_event",
        "hugetlb", "pids", "rdma", "misc", "debug",
    ]

    static func steal(_ c: DoctorContext) -> Verdict {
        let sources = ["/proc/cpuinfo", "/proc/stat"]
        let isGuest = (try? c.cpuInfo.get())?.flags.contains("hypervisor") == true
        let times: CPUTimes
        do { times = try c.host.procfs.cpuTimes() } catch {
            return Verdict(.warn, "cannot tell: \(error)", sources: sources)
        }
        let share = times.totalTicks > 0 ? Double(times.steal) / Double(times.totalTicks) * 100 : 0
        let stolen = "steal \(times.steal) of \(times.totalTicks) ticks (\(formatPercent(share))) since boot"
        guard isGuest else {
            if times.steal > 0 {
                return Verdict(.info, "no hypervisor cpu flag, yet \(stolen)", sources: sources)
            }
            return Verdict(.pass, "bare metal: no hypervisor cpu flag, no steal", sources: sources)
        }
        let noisy = share >= 5 ? "; above 5%: a busy outer host" : ""
        let reporting = times.steal == 0 ? " (its hypervisor may not report steal)" : ""
        return Verdict(
            .warn, "this host is itself a guest (hypervisor cpu flag): \(stolen)\(reporting)\(noisy)",
            remedy: "its hypervisor's overhead is in every figure; measure on bare metal for reference costs",
            sources: sources)
    }

    /// A throttled or clocked-down CPU inflates every time hvtax measures; where the host shows no
    /// frequency or thermal source at all, say that it cannot be seen rather than "fine".
    static func throttling(_ c: DoctorContext) -> Verdict {
        let sources = ["/sys/devices/system/cpu/cpuN/cpufreq", "/sys/devices/system/cpu/cpuN/thermal_throttle",
                       "/sys/class/thermal"]
        let now = ThrottleAnalysis.now(ThrottleReader(fs: c.host.fs).read())
        switch now.state {
        case .unknown:
            return Verdict(.info, now.detail, remedy: "exit and guest times may still be inflated by throttling this host cannot see (its own hypervisor's)",
                           sources: sources)
        case .throttled:
            return Verdict(.warn, "throttled now: " + now.detail,
                           remedy: "measure with the host cool and uncapped; check cooling, power limits and scaling_max_freq; hvtax snapshot shows throttling per interval",
                           sources: sources)
        case .notThrottled:
            if let events = now.throttleEventsSinceBoot, events > 0 {
                return Verdict(.warn, now.detail,
                               remedy: "this host has throttled since boot: check each measurement's interval (hvtax snapshot and top show it)",
                               sources: sources)
            }
            return Verdict(.pass, now.detail, sources: sources)
        }
    }

    static func formatPercent(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)%"
    }

    static func formatGiB(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
