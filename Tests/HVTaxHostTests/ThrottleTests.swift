import Foundation
import HVTaxHost
import HVTaxModel
import Testing

/// cpufreq, thermal_throttle counters and thermal zones read from trees built per test (4 CPUs:
/// two cores with two SMT threads each, one package), then changed between two readings.
@Suite struct ThrottleTests {
    final class Tree {
        let root: String

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-throttle-\(UUID().uuidString)").path
            for cpu in 0..<4 {
                set("sys/devices/system/cpu/cpu\(cpu)/topology/physical_package_id", "0")
                set("sys/devices/system/cpu/cpu\(cpu)/topology/core_id", String(cpu % 2))
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func set(_ path: String, _ value: String) {
            let url = URL(fileURLWithPath: root).appendingPathComponent(path)
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? (value + "\n").write(to: url, atomically: true, encoding: .utf8)
        }

        func frequency(cpu: Int, curKHz: Int, maxKHz: Int = 3_500_000, capKHz: Int = 3_500_000) {
            set("sys/devices/system/cpu/cpu\(cpu)/cpufreq/scaling_cur_freq", String(curKHz))
            set("sys/devices/system/cpu/cpu\(cpu)/cpufreq/cpuinfo_max_freq", String(maxKHz))
            set("sys/devices/system/cpu/cpu\(cpu)/cpufreq/scaling_max_freq", String(capKHz))
        }

        /// SMT siblings share the core counter; every CPU of the package shows the package counter.
        func counters(core0: Int, core1: Int, package: Int) {
            for cpu in 0..<4 {
                set("sys/devices/system/cpu/cpu\(cpu)/thermal_throttle/core_throttle_count", String(cpu % 2 == 0 ? core0 : core1))
                set("sys/devices/system/cpu/cpu\(cpu)/thermal_throttle/package_throttle_count", String(package))
            }
        }

        func zone(_ index: Int, type: String, milliC: Int, passiveMilliC: Int?) {
            set("sys/class/thermal/thermal_zone\(index)/type", type)
            set("sys/class/thermal/thermal_zone\(index)/temp", String(milliC))
            set("sys/class/thermal/thermal_zone\(index)/trip_point_0_type", "critical")
            set("sys/class/thermal/thermal_zone\(index)/trip_point_0_temp", "105000")
            if let passiveMilliC {
                set("sys/class/thermal/thermal_zone\(index)/trip_point_1_type", "passive")
                set("sys/class/thermal/thermal_zone\(index)/trip_point_1_temp", String(passiveMilliC))
            }
        }

        /// Writes over the file's bytes, as sysfs changes a value: the same file, so a descriptor
        /// held open reads the new value (`set` puts a new file in its place).
        func rewrite(_ path: String, _ value: String) throws {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: root).appendingPathComponent(path))
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data((value + "\n").utf8))
            try handle.close()
        }

        var reader: ThrottleReader { ThrottleReader(fs: HostFileSystem(root: root)) }

        /// Every source present: four CPUs at 3.0 of 3.5 GHz, the counters given, one zone at 65°C.
        static func withEverySource(core0: Int, core1: Int, package: Int) throws -> Tree {
            let tree = try Tree()
            for cpu in 0..<4 { tree.frequency(cpu: cpu, curKHz: 3_000_000) }
            tree.counters(core0: core0, core1: core1, package: package)
            tree.zone(0, type: "x86_pkg_temp", milliC: 65_000, passiveMilliC: 95_000)
            return tree
        }
    }

    @Test func counterEventsDuringTheIntervalMeanThrottled() throws {
        let tree = try Tree()
        for cpu in 0..<4 { tree.frequency(cpu: cpu, curKHz: 3_000_000) }
        tree.counters(core0: 5, core1: 5, package: 10)
        tree.zone(0, type: "x86_pkg_temp", milliC: 65_000, passiveMilliC: 95_000)
        let start = tree.reader.read()
        let quiet = ThrottleAnalysis.interval(from: start, to: tree.reader.read())
        #expect(quiet.state == .notThrottled)
        #expect(quiet.throttleEvents == 0)
        // Each core and the package counted once, not once per CPU: 5 + 5 + 10.
        #expect(quiet.throttleEventsSinceBoot == 20)
        #expect(abs((quiet.minFrequencyRatio ?? 0) - 3.0 / 3.5) < 1e-12)

        tree.counters(core0: 7, core1: 5, package: 11)
        let hot = ThrottleAnalysis.interval(from: start, to: tree.reader.read())
        #expect(hot.state == .throttled)
        #expect(hot.throttleEvents == 3)
        #expect(hot.detail.contains("3 thermal throttle events during the interval (23 since boot)"))
    }

    @Test func aFrequencyCapOrAHotZoneMeansThrottled() throws {
        let capped = try Tree()
        capped.frequency(cpu: 0, curKHz: 2_000_000, capKHz: 2_000_000)
        capped.frequency(cpu: 1, curKHz: 3_400_000)
        let cap = ThrottleAnalysis.now(capped.reader.read())
        #expect(cap.state == .throttled)
        #expect(cap.cappedCPUs == [0])
        #expect(cap.throttleCounterCPUs == 0 && cap.throttleEvents == nil)

        let warm = try Tree()
        warm.zone(0, type: "acpitz", milliC: 40_000, passiveMilliC: nil)
        warm.zone(1, type: "x86_pkg_temp", milliC: 96_000, passiveMilliC: 95_000)
        let zones = ThrottleAnalysis.now(warm.reader.read())
        #expect(zones.state == .throttled)
        #expect(zones.hotZones.map(\.type) == ["x86_pkg_temp"])
        #expect(zones.zones.first?.passiveTripCelsius == nil)
        #expect(zones.detail.contains("x86_pkg_temp 96.0°C (passive trip 95.0°C)"))
    }

    @Test func noSourcesIsUnknownNotFine() throws {
        let empty = try Tree()
        let state = ThrottleAnalysis.now(empty.reader.read())
        #expect(state.state == .unknown)
        #expect(state.detail.contains("throttling cannot be seen on this host"))
        let monitor = ThrottleMonitor(fs: HostFileSystem(root: empty.root))
        #expect(monitor.sample() == nil)
        #expect(monitor.sample()?.state == .unknown)
    }

    @Test("a monitor reads topology, maxima and trip points once: later readings take only what changes, new CPUs whole")
    func layoutReadOnce() throws {
        let tree = try Tree.withEverySource(core0: 1, core1: 2, package: 3)
        var layout = ThrottleLayout()
        let first = tree.reader.read(layout: &layout)
        #expect(first == tree.reader.read(), "the first reading with a layout is the whole reading")
        #expect(tree.reader.read(layout: &layout) == first, "nothing changed, nothing differs")

        // What changes while a host runs, and what does not (written here to see which is read).
        tree.frequency(cpu: 1, curKHz: 1_200_000, maxKHz: 9_000_000, capKHz: 2_000_000)
        tree.counters(core0: 4, core1: 2, package: 7)
        tree.set("sys/devices/system/cpu/cpu1/topology/core_id", "7")
        tree.zone(0, type: "renamed", milliC: 80_000, passiveMilliC: 70_000)
        tree.set("sys/devices/system/cpu/cpu4/topology/physical_package_id", "1")
        tree.set("sys/devices/system/cpu/cpu4/topology/core_id", "0")
        tree.frequency(cpu: 4, curKHz: 2_000_000, maxKHz: 2_500_000)
        let later = tree.reader.read(layout: &layout)
        let cpu1 = try #require(later.cpus.first { $0.cpu == 1 })
        #expect(cpu1.curKHz == 1_200_000 && cpu1.scalingMaxKHz == 2_000_000, "frequency and its cap are read each time")
        #expect(cpu1.maxKHz == 3_500_000 && cpu1.coreID == 1, "the hardware maximum and topology are the layout's")
        #expect(later.cpus.map(\.coreThrottleCount) == [4, 2, 4, 2, nil] && later.cpus[0].packageThrottleCount == 7)
        let cpu4 = try #require(later.cpus.first { $0.cpu == 4 })
        #expect(cpu4 == ThrottleReading.CPU(cpu: 4, curKHz: 2_000_000, maxKHz: 2_500_000, scalingMaxKHz: 3_500_000,
                                            packageID: 1, coreID: 0), "a CPU first listed now is read whole")
        let zone = try #require(later.zones.first)
        #expect(zone.celsius == 80 && zone.type == "x86_pkg_temp" && zone.passiveTripCelsius == 95)

        // A fresh layout (a monitor's, once its lifetime is over) sees all of it.
        let whole = tree.reader.read()
        #expect(whole.cpus.first { $0.cpu == 1 }?.coreID == 7 && whole.cpus.first { $0.cpu == 1 }?.maxKHz == 9_000_000)
        #expect(whole.zones.first?.type == "renamed" && whole.zones.first?.passiveTripCelsius == 70)
        let monitor = ThrottleMonitor(fs: HostFileSystem(root: tree.root))
        monitor.layoutLifetime = .zero
        monitor.sample()
        try FileManager.default.removeItem(atPath: tree.root + "/sys/devices/system/cpu/cpu4/cpufreq")
        #expect(monitor.sample()?.cpufreqCPUs == 4, "with no lifetime the folders are looked at every time")
    }

    @Test("a monitor reads each interval's values through descriptors held open: values changed in place, as sysfs changes them, are seen")
    func heldOpenValues() throws {
        let tree = try Tree.withEverySource(core0: 5, core1: 5, package: 10)
        let monitor = ThrottleMonitor(fs: HostFileSystem(root: tree.root))
        #expect(monitor.sample() == nil)
        #expect(monitor.sample()?.throttleEvents == 0)
        for cpu in [0, 2] { try tree.rewrite("sys/devices/system/cpu/cpu\(cpu)/thermal_throttle/core_throttle_count", "8") }
        try tree.rewrite("sys/class/thermal/thermal_zone0/temp", "-5000")
        let hot = try #require(monitor.sample())
        #expect(hot.throttleEvents == 3 && hot.state == .throttled)
        #expect(hot.zones.first?.celsius == -5, "a temperature below zero is read as such")
    }

    /// This host, for real: on the development machine (a VM) there is no cpufreq and no thermal
    /// zone, and the state must say so; on a host with them it must not be unknown.
    @Test func thisHost() throws {
        let fs = HostFileSystem(root: "/")
        let monitor = ThrottleMonitor(fs: fs)
        monitor.sample()
        let interval = try #require(monitor.sample())
        print("throttling on this host: \(interval.state.rawValue): \(interval.detail)")
        let hasSources = fs.exists("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
            || fs.exists("/sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count")
            || ((try? fs.list("/sys/class/thermal")) ?? []).contains { $0.hasPrefix("thermal_zone") }
        #expect((interval.state == .unknown) == !hasSources)
        let doctor = try #require(Doctor(host: .live()).run().check(.throttling))
        #expect(doctor.status == (hasSources ? doctor.status : .info))
        #expect(doctor.detail.contains(hasSources ? "cpufreq" : "throttling cannot be seen"))
    }
}
