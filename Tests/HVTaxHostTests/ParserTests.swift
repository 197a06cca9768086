import HVTaxHost
import Testing

@Suite("host file parsers")
struct ParserTests {
    @Test(
        "CPU lists",
        arguments: [
            ("", [Int]()), ("0", [0]), ("0-3", [0, 1, 2, 3]), ("0-1,4,6-7", [0, 1, 4, 6, 7]), ("8,2-3", [2, 3, 8]),
        ])
    func cpuLists(_ text: String, _ cpus: [Int]) throws {
        let list = try #require(CPUList(text))
        #expect(list.cpus == cpus)
        #expect(CPUList(list.description) == list, "round trip through the kernel's compact form")
    }

    @Test("bad CPU lists are refused", arguments: ["a", "3-1", "1-2-3", "0,,x", "0-4294967296", "70000", "-5"])
    func badCPULists(_ text: String) {
        #expect(CPUList(text) == nil)
    }

    @Test("/proc/mounts, with octal escapes in paths")
    func mounts() {
        let table = MountEntry.parseTable(
            """
            nodev /sys/kernel/tracing tracefs rw,relatime 0 0
            /dev/sdb1 /srv/vm\\040images ext4 rw,relatime 0 0
            cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0
            """)
        #expect(table.count == 3)
        #expect(table[0] == MountEntry(source: "nodev", mountPoint: "/sys/kernel/tracing", fsType: "tracefs", options: ["rw", "relatime"]))
        #expect(table[1].mountPoint == "/srv/vm images")
        #expect(table[2].options.contains("cpuacct"))
        #expect(table.mounts(ofType: "cgroup").map(\.mountPoint) == ["/sys/fs/cgroup/cpu,cpuacct"])
    }

    @Test("kernel config values")
    func kernelConfig() {
        let config = KernelConfig.parse(
            """
            # Linux/x86 6.18.44 Kernel Configuration
            CONFIG_SCHED_INFO=y
            # CONFIG_SCHEDSTATS is not set
            CONFIG_KVM_INTEL=m
            CONFIG_HZ=250
            CONFIG_LOCALVERSION="-fc"
            """, source: "test")
        #expect(config["CONFIG_SCHED_INFO"] == .builtIn)
        #expect(config["SCHED_INFO"] == .builtIn, "the CONFIG_ prefix is optional")
        #expect(config["CONFIG_SCHEDSTATS"] == .notSet)
        #expect(config["CONFIG_KVM_INTEL"] == .module)
        #expect(config["CONFIG_KVM_INTEL"]?.isEnabled == true)
        #expect(config["CONFIG_HZ"] == .other("250"))
        #expect(config["CONFIG_LOCALVERSION"] == .other("\"-fc\""))
        #expect(config["CONFIG_NOT_MENTIONED"] == nil)
    }

    @Test("/proc/config.gz is decompressed")
    func configGz() throws {
        let fs = HostFileSystem(root: Fixtures.root("pvm-nested-guest"))
        let config = try #require(try KernelConfig.load(fs, release: "6.18.44-fc-v769"))
        #expect(config.source == "/proc/config.gz")
        #expect(config["CONFIG_KVM_PVM"] == .builtIn)
        #expect(config["CONFIG_MODULES"] == .notSet)
    }

    @Test("/boot/config-RELEASE when there is no /proc/config.gz")
    func bootConfig() throws {
        let fs = HostFileSystem(root: Fixtures.root("intel-vmx-host"))
        let config = try #require(try KernelConfig.load(fs, release: "6.8.0-45-generic"))
        #expect(config.source == "/boot/config-6.8.0-45-generic")
        #expect(try KernelConfig.load(fs, release: "9.9.9") == nil)
    }

    @Test(
        "kernel command line",
        arguments: [
            ("isolcpus=2-7 nohz_full=2-7 quiet", "isolcpus", "2-7"),
            ("a=1 a=2", "a", "2"),
            ("foo=\"with space\" bar", "foo", "with space"),
            ("nested_pvm=1 -- --addr 0.0.0.0:2024 nohz_full=1", "nested_pvm", "1"),
        ])
    func commandLine(_ raw: String, _ key: String, _ value: String) {
        #expect(KernelCommandLine(raw).value(key) == value)
    }

    @Test("arguments after -- belong to init, not to the kernel")
    func commandLineInitArguments() {
        let cmdline = KernelCommandLine("quiet -- nohz_full=1 --addr x")
        #expect(!cmdline.contains("nohz_full"))
        #expect(cmdline.contains("quiet"))
    }

    @Test("cpuinfo: first CPU's flags, vendor, count")
    func cpuInfo() {
        let info = CPUInfo.parse(
            """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            model name\t: AMD EPYC
            flags\t\t: fpu svm hypervisor

            processor\t: 1
            vendor_id\t: AuthenticAMD
            flags\t\t: fpu
            """)
        #expect(info.processorCount == 2)
        #expect(info.vendor == "AuthenticAMD")
        #expect(info.modelName == "AMD EPYC")
        #expect(info.flags == ["fpu", "svm", "hypervisor"])
    }

    @Test("/proc/stat aggregate line, steal included, guest not counted twice")
    func procStat() throws {
        let times = try #require(CPUTimes.parseStat("cpu  14530 0 64044 121532 674 0 166 131 7 0\ncpu0 1 2 3\n"))
        #expect(times.steal == 131)
        #expect(times.guest == 7)
        #expect(times.totalTicks == 14530 + 64044 + 121532 + 674 + 166 + 131)
        #expect(CPUTimes.parseStat("intr 1 2 3\n") == nil)
    }

    /// Each trapped before (found by mutating numbers in a recorded host tree): a cpu line's id past
    /// Int, and a cgroup's microseconds past UInt64 nanoseconds.
    @Test("damaged counter files give no trap")
    func damagedCounters() {
        let ticks = ProcParse.procStat(Array("cpu  1 2 3\ncpu99999999999999999999 4 5 6\ncpu1 7 8 9\n".utf8)[...])
        #expect(ticks[nil] == [1, 2, 3] && ticks[1] == [7, 8, 9] && ticks.count == 2)
        let cgroup = ProcParse.cgroupV2(Array("usage_usec 18446744073709551615\nuser_usec 5\n".utf8)[...])
        #expect(cgroup.userNs == 5_000, "the good line beside it is read")
        // A header without CPU columns sliced tokens[1...0].
        #expect(InterruptCounts.parse("  x y\n 24: 1 2 IO-APIC 5-edge ACPI:Ged\n").lines.isEmpty)
        // A range to 2^32 once tried to list four billion CPUs.
        #expect(ProcParse.allowedCPUs(status: "Name:\tqemu\nCpus_allowed_list:\t0-4294967296\n") == [])
        #expect(ProcParse.allowedCPUs(status: "Cpus_allowed_list:\t0-3,8\n") == [0, 1, 2, 3, 8])
        // A `processor` field past Int (field 39 of /proc/.../stat); the other fields still read.
        var fields = [String](repeating: "0", count: 50)  // fields 3...52
        fields[0] = "S"
        fields[14 - 3] = "10"; fields[15 - 3] = "20"; fields[39 - 3] = "18446744073709551615"; fields[43 - 3] = "30"
        var counters = ThreadCounters()
        #expect(ProcParse.stat(Array("4101 (CPU 0/KVM) \(fields.joined(separator: " "))\n".utf8)[...], into: &counters))
        #expect(counters.utimeTicks == 10 && counters.stimeTicks == 20 && counters.guestTicks == 30 && counters.lastCPU == .max)
    }

    @Test("meminfo and sysfs selectors")
    func memInfoAndChoice() {
        let info = MemInfo.parse("HugePages_Total:       4\nHugepagesize:       2048 kB\n")
        #expect(info["HugePages_Total"] == 4)
        #expect(info["Hugepagesize"] == 2048)
        #expect(Sysfs.selectedChoice(in: "always [madvise] never") == "madvise")
        #expect(Sysfs.selectedChoice(in: "no brackets") == nil)
    }

    @Test(
        "hvtax instance names",
        arguments: [
            ("hvtax-4242", Int32?.some(4242), true), ("hvtax-5150-vm1", 5150, true), ("hvtax-", nil, true),
            ("kvm-capture", nil, false), ("hvtaxish", nil, false),
        ])
    func instanceNames(_ name: String, _ pid: Int32?, _ isHVTax: Bool) {
        #expect(HVTaxInstanceName.ownerPID(name) == pid)
        #expect(HVTaxInstanceName.isHVTax(name) == isHVTax)
    }

    @Test("instance names round trip")
    func instanceNameMake() {
        #expect(HVTaxInstanceName.make(pid: 77) == "hvtax-77")
        #expect(HVTaxInstanceName.ownerPID(HVTaxInstanceName.make(pid: 77, suffix: "vm2")) == 77)
    }

    @Test("KVM backend from flags and modules")
    func backend() {
        let none: (String) -> ModuleState = { _ in .absent }
        let pvm: (String) -> ModuleState = { $0 == "kvm_pvm" ? .builtIn : .absent }
        #expect(KVMBackend.detect(cpuFlags: ["vmx"], moduleState: pvm) == .intelVMX, "flags win over a paravirtual module")
        #expect(KVMBackend.detect(cpuFlags: ["svm"], moduleState: none) == .amdSVM)
        #expect(KVMBackend.detect(cpuFlags: ["hypervisor"], moduleState: pvm) == .paravirtual(module: "kvm_pvm"))
        #expect(KVMBackend.detect(cpuFlags: [], moduleState: none) == KVMBackend.none)
        #expect(!KVMBackend.paravirtual(module: "kvm_pvm").firesExitTracepoints)
    }
}

@Suite("host file system")
struct HostFileSystemTests {
    @Test("errors carry the host path, not the fixture path, and the errno")
    func errorsCarryPath() {
        let fs = HostFileSystem(root: Fixtures.root("intel-vmx-host"))
        do {
            _ = try fs.read("/proc/does-not-exist")
            Issue.record("expected an error")
        } catch {
            #expect(error.path == "/proc/does-not-exist")
            #expect(error.operation == .open)
            #expect(error.isNotFound)
            #expect(error.description == "opening /proc/does-not-exist: No such file or directory (ENOENT)")
        }
    }

    @Test("roots are joined with exactly one slash", arguments: ["/x/", "/x", "/x//"])
    func rootJoin(_ root: String) {
        #expect(HostFileSystem(root: root).resolve("/proc/mounts") == "/x/proc/mounts")
        #expect(HostFileSystem(root: "/").resolve("/proc/mounts") == "/proc/mounts")
    }

    @Test("listing is sorted and reads values without the newline")
    func listAndValue() throws {
        let fs = HostFileSystem(root: Fixtures.root("intel-vmx-host"))
        #expect(try fs.list("/sys/kernel/tracing/instances") == ["hvtax-4242", "hvtax-5150-vm1"])
        #expect(try fs.readValue("/sys/devices/system/cpu/isolated") == "2-7")
    }

    @Test(
        "permission rules",
        arguments: [
            (0o600 as UInt32, ProcessIdentity(uid: 0, gid: 0), true),
            (0o600, ProcessIdentity(uid: 1000, gid: 1000), false),
            (0o660, ProcessIdentity(uid: 1000, gid: 1000, groups: [108]), true),
            (0o660, ProcessIdentity(uid: 1000, gid: 1000), false),
            (0o666, ProcessIdentity(uid: 1000, gid: 1000), true),
        ])
    func permissions(_ mode: UInt32, _ identity: ProcessIdentity, _ allowed: Bool) {
        let node = FileStatus(kind: .characterDevice, permissions: mode, uid: 0, gid: 108, deviceMajor: 10, deviceMinor: 232)
        #expect(node.allows(identity, read: true, write: true) == allowed)
    }

    @Test("mode strings as ls prints them")
    func modeString() {
        #expect(FileStatus(kind: .characterDevice, permissions: 0o660).modeString == "crw-rw----")
        #expect(FileStatus(kind: .directory, permissions: 0o750).modeString == "drwxr-x---")
    }
}
