/// Reads the counters of the threads, cgroups and processes the sampler knows: threads through the
/// sampler's `ThreadFilePlan`, the rest through its open counter files. A value type used as a local
/// for one sample (`LiveSampler.sample` swaps its `State` in and out): the buffer and counts are then
/// mutated without the dynamic exclusivity checks a class's stored properties get on every access,
/// ~3,000 times a sample.
struct CounterReader {
    /// What lasts from one sample to the next.
    struct State {
        var buffer: [UInt8] = []
        /// Whether this kernel has /proc/.../sched (CONFIG_SCHED_DEBUG); nil until first tried.
        var hasSchedFile: Bool?
        /// Files read during this sample.
        var filesRead = 0

        /// Starts the next sample.
        mutating func endSample() {
            filesRead = 0
        }

        /// 8 KiB of buffer: /proc/PID/sched with CONFIG_SCHEDSTATS and NUMA balancing is about 4 KiB;
        /// and 128 bytes more, the most a thread file's read starts in (`OpenCounterFiles.alignedStart`).
        static func initial() -> State {
            State(buffer: [UInt8](repeating: 0, count: 8192 + 128))
        }
    }

    let files: OpenCounterFiles
    let threadFiles: ThreadFilePlan
    let ticksPerSecond: UInt64
    var state = State()

    init(files: OpenCounterFiles, threadFiles: ThreadFilePlan, ticksPerSecond: UInt64) {
        self.files = files
        self.threadFiles = threadFiles
        self.ticksPerSecond = ticksPerSecond
    }

    /// A vCPU thread's schedstat, stat and sched (or status); other threads only schedstat, which
    /// is all their group figures use. nil when the thread has gone.
    mutating func read(_ thread: inout ThreadFilePlan.Entry) -> ThreadCounters? {
        var c = ThreadCounters()
        let limit = state.buffer.count
        // The paths (needed only to open a file) from the two ids, not from `thread`, whose files
        // are being updated in the same call.
        let (pid, tid) = (thread.pid, thread.tid)
        func path(_ file: StaticString) -> String { DiscoveredThread.procPath(pid: pid, tid: tid) + "/" + file.description }
        guard let bytes = threadFiles.read(&thread.schedstat, path: { path("schedstat") }, into: &state.buffer, count: limit)
        else { return nil }
        state.filesRead += 1
        guard ProcParse.schedstat(state.buffer[bytes], into: &c) else { return nil }
        guard thread.isVCPU else { return c }
        if let bytes = threadFiles.read(&thread.stat, path: { path("stat") }, into: &state.buffer, count: limit) {
            state.filesRead += 1
            _ = ProcParse.stat(state.buffer[bytes], into: &c)
        }
        if state.hasSchedFile != false {
            // The figures lie between ~300 bytes and two thirds into the file and stay at the same
            // offsets: after the first read, only that span (with room for the numbers to grow) is
            // read and the keys checked where they were; the whole file is read and scanned again
            // if they moved.
            let known = thread.layout
            let origin = known?.readOffset ?? 0
            if let bytes = threadFiles.read(&thread.switches, path: { path("sched") }, into: &state.buffer,
                                            count: known.map { $0.end + 128 - origin } ?? limit, at: origin) {
                state.filesRead += 1
                state.hasSchedFile = true
                var layout = ProcParse.sched(state.buffer[bytes], into: &c, known: known, origin: origin)
                if layout == nil, known != nil, let full = threadFiles.read(&thread.switches, path: { path("sched") }, into: &state.buffer, count: limit) {
                    layout = ProcParse.sched(state.buffer[full], into: &c)
                }
                thread.layout = layout
                return c
            }
            if state.hasSchedFile == nil { state.hasSchedFile = false }
        }
        if let bytes = threadFiles.read(&thread.switches, path: { path("status") }, into: &state.buffer, count: limit) {
            state.filesRead += 1
            ProcParse.status(state.buffer[bytes], into: &c)
        }
        return c
    }

    mutating func read(_ cgroup: CgroupLocation, of pid: Int32) -> CgroupCounters? {
        switch cgroup.version {
        case .v2:
            guard let n = try? files.read(.init(owner: pid, file: .cgroupStat), path: cgroup.directory + "/cpu.stat", into: &state.buffer)
            else { return nil }
            state.filesRead += 1
            return ProcParse.cgroupV2(state.buffer[0..<n])
        case .v1:
            guard let n = try? files.read(.init(owner: pid, file: .cgroupUsage), path: cgroup.directory + "/cpuacct.usage",
                                          into: &state.buffer)
            else { return nil }
            state.filesRead += 1
            var c = CgroupCounters()
            if let usage = ProcParse.firstNumber(state.buffer[0..<n]) { c.usageNs = usage }
            if let n = try? files.read(.init(owner: pid, file: .cgroupUserSystem), path: cgroup.directory + "/cpuacct.stat",
                                       into: &state.buffer) {
                state.filesRead += 1
                ProcParse.cpuacctStat(state.buffer[0..<n], ticksPerSecond: ticksPerSecond, into: &c)
            }
            return c
        }
    }

    /// A VMM process's own /proc/PID/stat (what virDomainGetInfo reports), for `hvtax validate`.
    mutating func readProcess(_ pid: Int32) -> ThreadCounters? {
        guard let n = try? files.read(.init(owner: pid, file: .processStat), path: "/proc/\(pid)/stat", into: &state.buffer)
        else { return nil }
        state.filesRead += 1
        var c = ThreadCounters()
        return ProcParse.stat(state.buffer[0..<n], into: &c) ? c : nil
    }

    /// A VM's exit count from its KVM debugfs folder (`PID-FD/exits`) and its counters by reason.
    mutating func readDebugfsExits(_ dir: String, of pid: Int32, reasons: [String]) -> (total: UInt64?, byReason: [String: UInt64]) {
        func value(_ file: String, part: UInt8) -> UInt64? {
            let key = OpenCounterFiles.Key(owner: pid, file: .debugfsExits, part: part)
            guard let n = try? files.read(key, path: dir + "/" + file, into: &state.buffer) else { return nil }
            state.filesRead += 1
            return ProcParse.firstNumber(state.buffer[0..<n])
        }
        let total = value("exits", part: 0)
        var byReason: [String: UInt64] = [:]
        for (index, reason) in reasons.enumerated() {
            if let count = value(reason, part: UInt8(truncatingIfNeeded: index + 1)) { byReason[reason] = count }
        }
        return (total, byReason)
    }
}
