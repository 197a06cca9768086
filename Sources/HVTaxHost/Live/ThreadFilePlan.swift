#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The threads the live sampler reads each interval, flat and in the order it reads them: for each
/// thread its tid and pid, the descriptors of its counter files, and where the figures of its
/// /proc/.../sched were at the last read.
///
/// Why flat: at one sample a second everything the sampler touches is cold again, and each cache
/// line it brings back costs more than the few instructions that use it (this guest pays a nested
/// page walk on every TLB miss). Reading a thread through the VM's thread list, a table of open
/// files kept in request order and a separate list of sched layouts touched three places per file;
/// here a thread is one entry of one array walked front to back, as the C reader of
/// scripts/bench/floor-parse.h walks its files. The plan is rebuilt only when the VMs or their
/// threads change (`rebuild`), keeping the descriptors of the threads still there.
///
/// A file under /proc/PID/task/TID stays bound to its task: once the thread exits the read fails
/// (ESRCH), the descriptor is closed and -1 left in its place, and the sampler lists the VM's
/// threads again. Not Sendable: it belongs to one sampler.
final class ThreadFilePlan {
    /// One thread and its counter files; -1 for a file not open (not yet, or its last read failed).
    struct Entry {
        var tid: Int32
        var pid: Int32
        var schedstat: CInt = -1
        var stat: CInt = -1
        /// /proc/.../sched, or /proc/.../status on a kernel without it (`CounterReader.State.hasSchedFile`).
        var switches: CInt = -1
        /// vCPU threads get stat and sched too; other threads only schedstat, all their group figures use.
        var isVCPU: Bool
        /// Where the sched figures were at the last read (nil: not read yet, or not found).
        var layout: ProcParse.SchedLayout?

        init(tid: Int32, pid: Int32, isVCPU: Bool) {
            self.tid = tid
            self.pid = pid
            self.isVCPU = isVCPU
        }
    }

    let fs: HostFileSystem
    /// Every thread of every VM, VM by VM in the sampler's order.
    var entries: [Entry] = []
    /// `entries[vmStarts[i]..<vmStarts[i + 1]]` are the threads of the sampler's i-th VM.
    private(set) var vmStarts: [Int] = [0]
    /// Descriptors opened over the plan's life, and open now.
    private(set) var opens = 0
    private(set) var openCount = 0

    init(fs: HostFileSystem) {
        self.fs = fs
    }

    deinit { closeAll() }

    /// Closes every file and empties the plan. Must run on the thread whose descriptor table they
    /// were opened in (the sampler's reading thread: `PrivateFileTableThread`).
    func closeAll() {
        for index in entries.indices { closeFiles(of: &entries[index]) }
        entries = []
        vmStarts = [0]
    }

    /// The plan for `vms` as they are now: a thread already planned (same tid, same process) keeps
    /// its descriptors and sched layout; the descriptors of threads no VM has any more are closed.
    func rebuild(_ vms: [DiscoveredVM]) {
        var kept: [Int32: Entry] = [:]
        kept.reserveCapacity(entries.count)
        for entry in entries { kept[entry.tid] = entry }
        var next: [Entry] = []
        next.reserveCapacity(vms.reduce(0) { $0 + $1.threads.count })
        var starts = [0]
        starts.reserveCapacity(vms.count + 1)
        for vm in vms {
            for thread in vm.threads {
                let isVCPU = thread.role == .vcpu
                if var old = kept.removeValue(forKey: thread.tid), old.pid == thread.pid {
                    if old.isVCPU && !isVCPU {
                        closeFile(&old.stat)
                        closeFile(&old.switches)
                        old.layout = nil
                    }
                    old.isVCPU = isVCPU
                    next.append(old)
                } else {
                    next.append(Entry(tid: thread.tid, pid: thread.pid, isVCPU: isVCPU))
                }
            }
            starts.append(next.count)
        }
        for var gone in kept.values { closeFiles(of: &gone) }
        entries = next
        vmStarts = starts
    }

    /// Reads a thread's file from offset `at` (its start unless given) into `buffer` (at most
    /// `count` bytes), opening `path` first when `fd` is -1; where in `buffer` the bytes are, or nil
    /// when the file cannot be opened or read (its descriptor is then closed and left -1, so the next
    /// sample opens the path again). The bytes land as far into a 64-byte line as `at` is into one
    /// (`OpenCounterFiles.alignedStart`): the kernel copies fastest between addresses aligned alike.
    @inline(__always)
    func read(_ fd: inout CInt, path: () -> String, into buffer: inout [UInt8], count: Int, at offset: Int = 0) -> Range<Int>? {
        if fd < 0 {
            guard let opened = try? OpenCounterFiles.openCounterFile(fs, path()) else { return nil }
            fd = opened
            opens += 1
            openCount += 1
        }
        let start = OpenCounterFiles.alignedStart(in: buffer, forOffset: offset)
        let n = OpenCounterFiles.readCounterFile(fd, into: &buffer, from: start, count: count, at: offset)
        guard n >= 0 else {
            closeFile(&fd)
            return nil
        }
        return start..<start + n
    }

    private func closeFiles(of entry: inout Entry) {
        closeFile(&entry.schedstat)
        closeFile(&entry.stat)
        closeFile(&entry.switches)
    }

    private func closeFile(_ fd: inout CInt) {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        openCount -= 1
    }
}
