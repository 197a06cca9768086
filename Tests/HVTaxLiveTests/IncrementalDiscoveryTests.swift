import Foundation
import HVTaxHost
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a steady host costs the sampler's discovery, and that it still sees every change: /proc is
/// listed only when its link count moves (or the listing is due), and a VM's threads are listed
/// only when the thread count its vCPUs' stat lines give moves.
@Suite("incremental discovery")
struct IncrementalDiscoveryTests {
    /// Writes `count` as field 20 (num_threads) of every stat line of the process's threads, as the
    /// kernel prints the group's count in each.
    static func setThreadCount(_ root: String, pid: Int32, _ count: Int? = nil) throws {
        let task = root + "/proc/\(pid)/task"
        let tids = try FileManager.default.contentsOfDirectory(atPath: task)
        for tid in tids {
            let path = task + "/\(tid)/stat"
            let line = try String(contentsOfFile: path, encoding: .utf8)
            let close = line.lastIndex(of: ")")!
            var fields = line[line.index(after: close)...].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            // fields[0] is the empty text before the first space; fields[1] is field 3.
            fields[20 - 2] = String(count ?? tids.count)
            try (String(line[...close]) + fields.joined(separator: " ")).write(toFile: path, atomically: false, encoding: .utf8)
        }
    }

    static func vmPIDs(_ sampler: LiveSampler) -> [Int32] { sampler.vms.map(\.pid) }

    @Test("stat lines that count threads: no task folder stat on a steady host; a thread that comes or goes is seen in the same sample")
    func threadCountsFromStatLines() throws {
        let counted = try OpenCounterFilesTests.copyOfFixture("live-libvirt-v2")
        let uncounted = try OpenCounterFilesTests.copyOfFixture("live-libvirt-v2")
        defer {
            try? FileManager.default.removeItem(atPath: counted)
            try? FileManager.default.removeItem(atPath: uncounted)
        }
        let probe = LiveSampler(fs: HostFileSystem(root: uncounted), ticksPerSecond: 100)
        _ = try probe.sample()
        // The fixture's VMs with vCPU threads (their stat lines are read); the vhost process is not one.
        let withVCPUs = probe.vms.filter { $0.threads.contains { $0.role == .vcpu } }
        #expect(withVCPUs.count == 2)
        for vm in withVCPUs { try Self.setThreadCount(counted, pid: vm.pid) }

        let sampler = LiveSampler(fs: HostFileSystem(root: counted), ticksPerSecond: 100)
        _ = try sampler.sample()
        let steady = try sampler.sample()
        let steadyUncounted = try probe.sample()
        #expect(steady.cost.filesOpened == 0)
        // The same counter files, less one stat of a task folder per VM whose stat lines count.
        #expect(steady.cost.filesRead == steadyUncounted.cost.filesRead - withVCPUs.count)
        #expect(sampler.openFileCount == probe.openFileCount - withVCPUs.count, "the task folders' descriptors were closed")
        let vm = try #require(sampler.vms.first { $0.pid == withVCPUs[0].pid })
        let vcpu0 = try #require(vm.threads.first { $0.role == .vcpu })

        // vCPU hotplug: a new task folder and every stat line of the process one thread more.
        let newTid = vm.pid + 900
        try FileManager.default.copyItem(atPath: counted + vcpu0.procPath, toPath: counted + "/proc/\(vm.pid)/task/\(newTid)")
        try "CPU 7/KVM\n".write(toFile: counted + "/proc/\(vm.pid)/task/\(newTid)/comm", atomically: false, encoding: .utf8)
        try Self.setThreadCount(counted, pid: vm.pid)
        let hotplug = try sampler.sample()
        let found = sampler.vms.first { $0.pid == vm.pid }?.threads.first { $0.tid == newTid }
        #expect(found?.role == .vcpu && found?.vcpu == 7)
        #expect(hotplug.threads[newTid] != nil, "read in the sample that saw the count change")
        #expect(hotplug.threads[newTid]?.processThreads == UInt64(vm.threads.filter { $0.pid == vm.pid }.count + 1))
        let after = try sampler.sample()
        #expect(after.cost.filesOpened == 0 && after.threads[newTid] != nil)

        // A thread ends: its folder goes and the count drops; the list no longer has it after that sample.
        let gone = try #require(vm.threads.first { $0.role != .vcpu })
        try FileManager.default.removeItem(atPath: counted + gone.procPath)
        try Self.setThreadCount(counted, pid: vm.pid)
        let afterExit = try sampler.sample()
        #expect(afterExit.threads[gone.tid] == nil)
        #expect(sampler.vms.first { $0.pid == vm.pid }?.threads.contains { $0.tid == gone.tid } == false)
        let steadyAgain = try sampler.sample()
        #expect(steadyAgain.cost.filesOpened == 0 && steadyAgain.threads.count == afterExit.threads.count)
    }

    /// Copies VM `pid`'s /proc folder to `newPID`, its threads renumbered by the same offset.
    static func copyVM(_ root: String, from pid: Int32, to newPID: Int32) throws {
        let fm = FileManager.default
        try fm.copyItem(atPath: root + "/proc/\(pid)", toPath: root + "/proc/\(newPID)")
        let task = root + "/proc/\(newPID)/task"
        for tid in try fm.contentsOfDirectory(atPath: task) {
            try fm.moveItem(atPath: task + "/" + tid, toPath: task + "/\(Int32(tid)! - pid + newPID)")
        }
    }

    @Test("/proc is listed again when its link count moves, or when the listing is due")
    func processListing() throws {
        let root = try OpenCounterFilesTests.copyOfFixture("live-libvirt-v2")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var st = stat()
        #expect(stat(root + "/proc", &st) == 0)
        // ext4, tmpfs, xfs: 2 plus the subfolders. A filesystem that gives a folder 1 (btrfs) is
        // listed every sample.
        let linksCountFolders = st.st_nlink >= 2
        let sampler = LiveSampler(fs: HostFileSystem(root: root), ticksPerSecond: 100)
        sampler.processListingIntervalNs = .max
        _ = try sampler.sample()
        let before = Self.vmPIDs(sampler)
        #expect(before.contains(4100))

        // A new VM: /proc has one more folder.
        try Self.copyVM(root, from: 4100, to: 5100)
        let added = try sampler.sample()
        #expect(Self.vmPIDs(sampler).contains(5100))
        #expect(added.threads[5100] != nil)

        // A process ends (sshd) in the interval a VM starts: the count is as it was, so the new VM
        // waits for the next listing that is due.
        try FileManager.default.removeItem(atPath: root + "/proc/900")
        try Self.copyVM(root, from: 4100, to: 5200)
        _ = try sampler.sample()
        #expect(Self.vmPIDs(sampler).contains(5200) == !linksCountFolders)
        sampler.processListingIntervalNs = 0
        let due = try sampler.sample()
        #expect(Self.vmPIDs(sampler).contains(5200))
        #expect(due.threads[5200] != nil)

        // A VM ends: its folder goes, the count drops, and it is forgotten at once.
        sampler.processListingIntervalNs = .max
        try FileManager.default.removeItem(atPath: root + "/proc/5100")
        let ended = try sampler.sample()
        #expect(!Self.vmPIDs(sampler).contains(5100))
        #expect(ended.threads[5100] == nil)
    }
}
