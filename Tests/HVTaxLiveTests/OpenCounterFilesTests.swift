import Foundation
import HVTaxHost
import HVTaxModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The sampler keeps counter files open and re-reads them with pread at offset 0. These tests prove
/// the two facts that rests on, on the real procfs (a re-read at 0 is a fresh reading; a dead
/// thread's file fails rather than showing a recycled tid), and the sampler's bookkeeping on a host
/// tree that changes between samples.
@Suite("counter files kept open between samples")
struct OpenCounterFilesTests {
    /// A thread of this test process that spins on request and ends on request.
    final class Worker: @unchecked Sendable {
        private let lock = NSCondition()
        private var command = 0  // 0 wait, 1 spin once, 2 end
        private var done = false
        private(set) var tid: Int32 = 0
        private var thread: Thread?

        init() {
            let started = DispatchSemaphore(value: 0)
            let thread = Thread { [self] in
                // glibc's gettid() is not imported; /proc/thread-self links to PID/task/TID.
                let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
                tid = Int32(link.split(separator: "/").last ?? "") ?? 0
                started.signal()
                while true {
                    lock.lock()
                    while command == 0 { lock.wait() }
                    let now = command
                    command = 0
                    lock.unlock()
                    if now == 2 { break }
                    // 30 ms of this thread's own CPU time, however loaded the host is.
                    let until = Self.threadCPUNs() + 30_000_000
                    var spin = 0
                    while Self.threadCPUNs() < until { spin &+= 1 }
                    lock.lock()
                    done = true
                    lock.broadcast()
                    lock.unlock()
                }
                lock.lock()
                done = true
                lock.broadcast()
                lock.unlock()
            }
            self.thread = thread
            thread.start()
            started.wait()
            waitUntilBlocked()
        }

        private func send(_ value: Int) {
            lock.lock()
            done = false
            command = value
            lock.broadcast()
            while !done { lock.wait() }
            lock.unlock()
        }

        /// Spins 30 ms of its CPU time, and returns once it has blocked again: its voluntary
        /// switches have moved. (Returning when it said it was done let a loaded CI machine read
        /// its counters before it blocked: no switch yet, and a test that waited for one failed.)
        func spin() {
            send(1)
            waitUntilBlocked()
        }

        /// Returns once the thread sleeps (state S in its stat line), that is, once it has blocked on
        /// its condition: a voluntary switch counted. Gives up after 5 s.
        func waitUntilBlocked() {
            let path = "/proc/self/task/\(tid)/stat"
            for _ in 0..<5_000 {
                if let line = try? String(contentsOfFile: path, encoding: .utf8), let close = line.lastIndex(of: ")"),
                   line.index(close, offsetBy: 2) < line.endIndex, line[line.index(close, offsetBy: 2)] == "S" { return }
                usleep(1_000)
            }
        }

        static func threadCPUNs() -> UInt64 {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        }

        /// Returns once the thread's task is gone from /proc (a thread reaps itself on exit).
        func end() {
            send(2)
            let path = "/proc/self/task/\(tid)"
            for _ in 0..<500 where FileManager.default.fileExists(atPath: path) { usleep(2_000) }
        }
    }

    static func onCPUNs(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        UInt64(String(decoding: bytes, as: UTF8.self).split(separator: " ").first ?? "")
    }

    @Test("real procfs: pread at 0 of an open schedstat is a fresh reading; once the thread ends it fails")
    func procfsSemantics() throws {
        let worker = Worker()
        let files = OpenCounterFiles(fs: .live)
        let key = OpenCounterFiles.Key(owner: worker.tid, file: .threadSchedstat)
        let path = "/proc/self/task/\(worker.tid)/schedstat"
        var buffer = [UInt8](repeating: 0, count: 4096)

        let n0 = try files.read(key, path: path, into: &buffer)
        let before = try #require(Self.onCPUNs(buffer[0..<n0]), "schedstat: \(String(decoding: buffer[0..<n0], as: UTF8.self))")
        worker.spin()
        let n1 = try files.read(key, path: path, into: &buffer)
        let after = try #require(Self.onCPUNs(buffer[0..<n1]))
        #expect(files.opens == 1, "the second read used the descriptor of the first")
        #expect(after >= before + 20_000_000, "the thread spun 30 ms of CPU between the readings: \(before) -> \(after) ns")

        worker.end()
        #expect(throws: HostError.self, "a dead thread's schedstat must fail, never read as another task") {
            _ = try files.read(key, path: path, into: &buffer)
        }
        #expect(files.openCount == 0, "the failed descriptor was closed")
    }

    @Test("the request order is only a hint: reordered, repeated and forgotten files still read the right file")
    func requestOrderIsOnlyAHint() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-order-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/proc", withIntermediateDirectories: true)
        for tid in 1...3 { try "\(tid)000 0 0\n".write(toFile: root + "/proc/\(tid)", atomically: false, encoding: .utf8) }
        let files = OpenCounterFiles(fs: HostFileSystem(root: root))
        var buffer = [UInt8](repeating: 0, count: 64)
        func value(_ tid: Int32) throws -> UInt64? {
            let n = try files.read(.init(owner: tid, file: .threadSchedstat), path: "/proc/\(tid)", into: &buffer)
            return Self.onCPUNs(buffer[0..<n])
        }
        // The same order twice, then reversed, then with a repeat, then a file skipped.
        for order: [Int32] in [[1, 2, 3], [1, 2, 3], [3, 2, 1], [1, 1, 2, 3], [1, 3]] {
            for tid in order { #expect(try value(tid) == UInt64(tid) * 1000, "tid \(tid) in order \(order)") }
            files.endSample()
        }
        #expect(files.opens == 3, "every file stayed open while it was read each sample")
        #expect(files.openCount == 2, "the file not read in the last sample was closed")
        // A forgotten file (a cgroup that moved) is opened again, never read through its closed descriptor.
        try "4000 0 0\n".write(toFile: root + "/proc/9", atomically: false, encoding: .utf8)
        #expect(try value(1) == 1000)
        files.forget(owner: 1, [.threadSchedstat])
        try FileManager.default.removeItem(atPath: root + "/proc/1")
        try FileManager.default.createSymbolicLink(atPath: root + "/proc/1", withDestinationPath: root + "/proc/9")
        files.endSample()
        #expect(try value(1) == 4000)
        #expect(files.opens == 4)
        // The file that came after it in the order is still its own file: 2 was skipped, so the
        // entry at this position is no longer a match and the dictionary answers.
        #expect(try value(3) == 3000)
        files.endSample()
        #expect(files.openCount == 2, "2 was not read in that sample")
        // endSample walks the table only when fewer files were read than are open: a file forgotten
        // and opened again in a sample counts once, and so does a file read twice.
        let opensBefore = files.opens
        for tid: Int32 in [1, 3] { _ = try value(tid) }
        files.forget(owner: 3, [.threadSchedstat])
        #expect(try value(3) == 3000)
        files.endSample()
        #expect(files.openCount == 2 && files.opens == opensBefore + 1)
        for _ in 0..<2 { _ = try value(3) }
        files.endSample()
        #expect(files.openCount == 1, "1 was not read in the last sample: closed")
        // A sample that follows the order exactly but stops short of its end (a thread gone from the
        // end of the list): every request found where the order had it, yet the rest is closed.
        for tid: Int32 in [3, 2] { _ = try value(tid) }
        files.endSample()
        for tid: Int32 in [3, 2] { _ = try value(tid) }
        files.endSample()
        #expect(files.openCount == 2)
        _ = try value(3)
        files.endSample()
        #expect(files.openCount == 1, "2, last in the order and not read, was closed")
        #expect(try value(3) == 3000)
    }

    /// A copy of a recorded host tree the test may change.
    static func copyOfFixture(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-open-files-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: LiveFixtures.root(name, 0), toPath: dir)
        return dir
    }

    @Test("host tree: no opens after the first sample, in-place changes seen, threads that come and go followed")
    func samplerBookkeeping() throws {
        let root = try Self.copyOfFixture("live-libvirt-v2")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sampler = LiveSampler(fs: HostFileSystem(root: root), ticksPerSecond: 100)
        let first = try sampler.sample()
        let vm = try #require(sampler.vms.first)
        let vcpus = vm.threads.filter { $0.role == .vcpu }
        #expect(vcpus.count >= 2)
        #expect(first.cost.filesOpened == sampler.openFileCount)
        let steady = try sampler.sample()
        #expect(steady.cost.filesOpened == 0, "a steady host re-reads open files")
        #expect(steady.cost.filesRead < first.cost.filesRead, "discovery read comm, cmdline and cgroup only the first time")
        let steadyAgain = try sampler.sample()
        #expect(steadyAgain.cost.filesOpened == 0 && steadyAgain.cost.filesRead == steady.cost.filesRead)
        #expect(sampler.openFileCount == first.cost.filesOpened)

        // A counter rewritten in place (as the kernel's change between readings): seen.
        let vcpu0 = vcpus[0]
        let schedstat = root + vcpu0.procPath + "/schedstat"
        try "987654321000 5 7\n".write(toFile: schedstat, atomically: false, encoding: .utf8)
        let changed = try sampler.sample()
        #expect(changed.threads[vcpu0.tid]?.onCPUNs == 987_654_321_000)

        // Only the start of /proc/.../sched is read after the first time; when its figures move
        // further in (a kernel printing more lines), the whole file is read again.
        let sched = root + vcpu0.procPath + "/sched"
        let padding = (0..<60).map { "padding_line_\($0)                            :                    1" }.joined(separator: "\n")
        let moved = "CPU 0/KVM (\(vcpu0.tid), #threads: 1)\n" + padding + "\nse.nr_migrations : 77\nnr_voluntary_switches : 4100\n"
            + "nr_involuntary_switches : 4242\n"
        try moved.write(toFile: sched, atomically: false, encoding: .utf8)
        let movedSample = try sampler.sample()
        #expect(movedSample.threads[vcpu0.tid]?.involuntarySwitches == 4242)
        #expect(movedSample.threads[vcpu0.tid]?.migrations == 77)

        // A vCPU thread ends: its task folder goes, the link count of the task folder drops.
        let gone = vcpus[1]
        try FileManager.default.removeItem(atPath: root + gone.procPath)
        let openBefore = sampler.openFileCount
        let afterExit = try sampler.sample()
        #expect(afterExit.threads[gone.tid] == nil)
        #expect(sampler.vms.first { $0.pid == vm.pid }?.threads.contains { $0.tid == gone.tid } == false)
        #expect(sampler.openFileCount < openBefore, "the ended thread's descriptors were closed")

        // A new vCPU thread (hotplug): found without listing every task folder every interval.
        let newTid = Int32(vm.pid) + 900
        try FileManager.default.copyItem(atPath: root + vcpu0.procPath, toPath: root + "/proc/\(vm.pid)/task/\(newTid)")
        try "CPU 7/KVM\n".write(toFile: root + "/proc/\(vm.pid)/task/\(newTid)/comm", atomically: false, encoding: .utf8)
        let hotplug = try sampler.sample()
        let found = sampler.vms.first { $0.pid == vm.pid }?.threads.first { $0.tid == newTid }
        #expect(found?.role == .vcpu && found?.vcpu == 7)
        #expect(hotplug.threads[newTid] != nil)
        #expect(hotplug.cost.filesOpened ?? 0 > 0)
    }
}
