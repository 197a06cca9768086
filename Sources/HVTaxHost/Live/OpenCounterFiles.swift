#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CKVM

/// The counter files the live sampler reads every interval, kept open from one sample to the next
/// and re-read with `pread` at offset 0.
///
/// Why: a 100-VM host means ~3,000 small files per sample, and open + read + read(EOF) + close
/// with a path walk each time was almost all of the sampler's cost. procfs, cgroupfs and debugfs
/// regenerate a file's text whenever it is read from offset 0 (seq_file restarts on a position
/// change; simple_attr formats on a read at 0), so one `pread` per file per sample gives a fresh
/// reading. A file under /proc/PID/task/TID stays bound to its task: once the thread exits, the read
/// fails with ESRCH, so a recycled tid can never be read through an old descriptor. On a fixture
/// tree (regular files) `pread` at 0 reads the file as it is now.
///
/// Descriptors not read during a sample are closed at the end of it (`endSample`), so a host where
/// VMs come and go does not accumulate them. The live sampler keeps its VMs' and the host's files
/// here (a few hundred a sample); its threads' files, most of the ~3,000, are in `ThreadFilePlan`,
/// which opens and reads them with `openCounterFile` and `readCounterFile`. Not Sendable: it belongs
/// to one sampler.
public final class OpenCounterFiles {
    /// Which counter file of which task, cgroup or VM: the key is built without formatting a path,
    /// which is needed only when the file is first opened.
    public struct Key: Hashable, Sendable {
        public enum File: UInt8, Sendable {
            /// A thread's schedstat read on its own (the sampler reads its threads' files through
            /// `ThreadFilePlan`).
            case threadSchedstat
            case processStat, cgroupStat, cgroupUsage, cgroupUserSystem, debugfsExits
            case hostStat, hostInterrupts
            /// A VM's /proc/PID/task folder, held open for its link count (`linkCount`).
            case taskFolder
            /// /proc itself, held open for its link count (procfs: 2 plus the host's processes).
            case procFolder
            /// A CPU's cpufreq and thermal_throttle values and a thermal zone's temperature, read
            /// by `ThrottleMonitor` each interval (owner: the CPU's or the zone's number).
            case cpuCurFrequency, cpuScalingMax, cpuCoreThrottles, cpuPackageThrottles, thermalZoneTemp
        }

        /// A tid for thread files, the VM's pid for process, cgroup and debugfs files, 0 for host files.
        public var owner: Int32
        public var file: File
        /// Which of several files of the same kind (a VM's debugfs counters by reason).
        public var part: UInt8

        public init(owner: Int32, file: File, part: UInt8 = 0) {
            self.owner = owner
            self.file = file
            self.part = part
        }

        /// One combine of one word: the table is looked up for every file of a sample.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(UInt64(UInt32(bitPattern: owner)) << 16 | UInt64(file.rawValue) << 8 | UInt64(part))
        }
    }

    /// A file asked for in the last sample, in the order of the requests: its key and descriptor
    /// side by side, so the common request touches 12 bytes of one array that is walked in order.
    /// At one sample a second all of it is cold again, and a pointer chased per file (an object per
    /// entry, or an index into a second array) was most of the bookkeeping's time.
    private struct Request {
        var key: Key
        /// -1 once the file is closed: a stale place in the order never reads through it.
        var fd: CInt
    }

    public let fs: HostFileSystem
    /// Every open file: the authority whenever the request order differs.
    private var descriptors: [Key: CInt] = [:]
    /// The files asked for during the previous sample, in the order they were asked for. A sampler
    /// walks the same VMs in the same order every interval, so the n-th request of a
    /// sample is almost always the n-th of the last one: comparing one key then finds its file
    /// without hashing (SipHash of the key was most of the user-space cost of a read when every
    /// thread file went through this table); the dictionary answers whenever the order differs.
    private var order: [Request] = []
    private var position = 0
    /// Whether a request of this sample was not where the order had it: then `endSample` works out
    /// which open files were not read. Otherwise this sample asked for exactly what the last one
    /// did, after which every file not asked for was closed, so nothing is stale.
    private var orderBroken = false
    /// Descriptors opened over the table's life: with nothing changing on the host, this stops
    /// growing after the first sample (what the tests check).
    public private(set) var opens = 0

    public init(fs: HostFileSystem) {
        self.fs = fs
    }

    deinit { closeAll() }

    /// Closes every file. Must run on the thread whose descriptor table they were opened in (the
    /// sampler's reading thread: `PrivateFileTableThread`).
    public func closeAll() {
        for fd in descriptors.values { close(fd) }
        descriptors = [:]
        order = []
        position = 0
        orderBroken = false
    }

    public var openCount: Int { descriptors.count }

    /// Reads the file from its start into `buffer` (at most `buffer.count` bytes) and returns how
    /// many bytes came. On any failure the descriptor is closed, so the next sample opens the path
    /// again (a cgroup re-created, a tid reused by another thread).
    /// `count` limits the read to the file's first bytes, when the caller knows what it needs is there.
    public func read(_ key: Key, path: @autoclosure () -> String, into buffer: inout [UInt8], count: Int? = nil) throws(HostError) -> Int {
        let fd = try descriptor(key, path)
        let n = Self.readCounterFile(fd, into: &buffer, count: count ?? buffer.count)
        guard n >= 0 else {
            let failure = HostError(.read, path(), errno: errno)
            forget(key)
            throw failure
        }
        return n
    }

    /// `fd` read from offset `at` (0 unless given) into `buffer` from index `from` (0 unless given),
    /// at most `count` bytes (and never past the buffer): the bytes read, or -1 with errno. One
    /// `pread` for a counter file: procfs and regular files return less than asked only at the end,
    /// so no second read confirms it. procfs writes the whole file afresh for a read at any offset
    /// (seq_file starts again when the offset is not where its last read ended).
    @inline(__always)
    static func readCounterFile(_ fd: CInt, into buffer: inout [UInt8], from start: Int = 0, count: Int, at offset: Int = 0) -> Int {
        let wanted = min(count, buffer.count - start)
        var filled = 0
        while filled < wanted {
            let n = buffer.withUnsafeMutableBytes { ckvm_pread(fd, $0.baseAddress! + start + filled, wanted - filled, Int64(offset + filled)) }
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            filled += n
            if n == 0 || filled < wanted { break }
        }
        return filled
    }

    /// Where in `buffer` to read a file's bytes from `offset` on so that each lands as far into a
    /// 64-byte line as it is into one in the page cache (within the buffer's first 128 bytes). The
    /// kernel copies a read out with `rep movsb`, which runs at a fraction of its speed when source
    /// and destination are aligned differently: a buffer 16 bytes off cost a quarter more per
    /// pass of the sampler's files here (docs/live.md, session 27), and where a Swift array's bytes
    /// start within a line is up to the allocator.
    @inline(__always)
    static func alignedStart(in buffer: [UInt8], forOffset offset: Int) -> Int {
        let address = buffer.withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
        return ((64 - address & 63) & 63) + (offset & 63)
    }

    /// The link count of a folder held open (fstat, no path walk). procfs recomputes it on every
    /// call for /proc/PID/task: two plus the process's threads.
    public func linkCount(_ key: Key, path: @autoclosure () -> String) throws(HostError) -> UInt64 {
        let fd = try descriptor(key, path)
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let failure = HostError(.stat, path(), errno: errno)
            forget(key)
            throw failure
        }
        return UInt64(st.st_nlink)
    }

    /// The whole file, growing `buffer` as needed (/proc/interrupts on a big host is tens of KiB).
    public func readAll(_ key: Key, path: @autoclosure () -> String, into buffer: inout [UInt8], limit: Int = 4 << 20)
        throws(HostError) -> Int
    {
        var filled = try read(key, path: path(), into: &buffer)
        while filled == buffer.count && buffer.count < limit {
            buffer.append(contentsOf: repeatElement(0, count: buffer.count))
            filled = try read(key, path: path(), into: &buffer)
        }
        return filled
    }

    /// Closes every descriptor that was not read since the previous call: the files of threads,
    /// VMs and cgroups that are gone.
    public func endSample() {
        if orderBroken || position != order.count {
            let read = Set(order[0..<position].lazy.filter { $0.fd >= 0 }.map(\.key))
            // Not in the order this sample kept, so closed without walking it (`forget` would).
            for (key, fd) in descriptors where !read.contains(key) {
                close(fd)
                descriptors[key] = nil
            }
        }
        order.removeLast(order.count - position)
        position = 0
        orderBroken = false
    }

    @inline(__always)
    private func descriptor(_ key: Key, _ path: () -> String) throws(HostError) -> CInt {
        if position < order.count, order[position].key == key, order[position].fd >= 0 {
            position += 1
            return order[position - 1].fd
        }
        let fd = try lookUpOrOpen(key, path)
        let request = Request(key: key, fd: fd)
        if position < order.count { order[position] = request } else { order.append(request) }
        position += 1
        orderBroken = true
        return fd
    }

    private func lookUpOrOpen(_ key: Key, _ path: () -> String) throws(HostError) -> CInt {
        if let fd = descriptors[key] { return fd }
        let fd = try Self.openCounterFile(fs, path())
        descriptors[key] = fd
        opens += 1
        return fd
    }

    /// Opens a counter file of the host (`hostPath` under the tree's root) read-only.
    static func openCounterFile(_ fs: HostFileSystem, _ hostPath: String) throws(HostError) -> CInt {
        let resolved = fs.resolve(hostPath)
        // O_NOATIME: reading a host tree on disk (a fixture, a mounted image of another host) must
        // not write to it; the kernel allows it only to the owner or root, so fall back without.
        var fd = open(resolved, O_RDONLY | O_CLOEXEC | noAccessTime)
        if fd < 0 && errno == EPERM { fd = open(resolved, O_RDONLY | O_CLOEXEC) }
        if fd < 0 { throw HostError(.open, hostPath, errno: errno) }
        return fd
    }

    /// Closes an owner's files whose path changed (a VM's cgroup), so the next read opens the new one.
    public func forget(owner: Int32, _ kinds: [Key.File]) {
        for file in kinds { forget(Key(owner: owner, file: file)) }
    }

    /// O_NOATIME, which Glibc's Swift overlay does not export (it is behind _GNU_SOURCE): 01000000
    /// in the generic Linux fcntl.h that x86-64 and arm64 use.
    #if arch(x86_64) || arch(arm64)
    static let noAccessTime: CInt = 0o1000000
    #else
    static let noAccessTime: CInt = 0
    #endif

    /// Closes a file, and marks it closed wherever the request order has it (a failed read, a moved
    /// cgroup: a few files in a sample at most, so the walk along the order is rare).
    private func forget(_ key: Key) {
        guard let fd = descriptors.removeValue(forKey: key) else { return }
        close(fd)
        for index in order.indices where order[index].fd == fd && order[index].key == key { order[index].fd = -1 }
    }
}
