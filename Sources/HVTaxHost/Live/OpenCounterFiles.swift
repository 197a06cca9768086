#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
/// threads come and go does not accumulate them. Not Sendable: it belongs to one sampler.
public final class OpenCounterFiles {
    /// Which counter file of which task, cgroup or VM: the key is built without formatting a path,
    /// which is needed only when the file is first opened.
    public struct Key: Hashable, Sendable {
        public enum File: UInt8, Sendable {
            case threadSchedstat, threadStat, threadSched, threadStatus
            case processStat, cgroupStat, cgroupUsage, cgroupUserSystem, debugfsExits
            case hostStat, hostInterrupts
            /// A VM's /proc/PID/task folder, held open for its link count (`linkCount`).
            case taskFolder
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

        /// One combine of one word: the table is looked up ~3,000 times a sample.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(UInt64(UInt32(bitPattern: owner)) << 16 | UInt64(file.rawValue) << 8 | UInt64(part))
        }
    }

    /// One open file: slots sit side by side in one array, in the order they were first opened, which
    /// is the order a sampler asks for them. Why not a class per entry: at one sample a second, each
    /// entry is cold again, and 3,000 pointer chases to scattered objects cost more than the reads'
    /// own user-space work; a walk along one array is what the hardware prefetches.
    private struct Slot {
        var key: Key
        /// -1 while the slot is free.
        var fd: CInt
        /// The sample that last read it (wraps after 2^32 samples; only compared for equality).
        var sample: UInt32
    }

    public let fs: HostFileSystem
    private var slots: [Slot] = []
    /// Slots closed and free for the next file opened.
    private var freeSlots: [Int32] = []
    /// Where each open file's slot is: the authority when the request order differs.
    private var slotOfKey: [Key: Int32] = [:]
    /// The slots asked for during the previous sample, in the order they were asked for. A sampler
    /// walks the same VMs and threads in the same order every interval, so the n-th request of a
    /// sample is almost always the n-th of the last one: comparing one key then finds its file
    /// without hashing. Hashing the key was most of the user-space cost of a read (SipHash, ~3,000
    /// times a sample); the dictionary answers whenever the order differs.
    private var order: [Int32] = []
    private var position = 0
    private var sample: UInt32 = 0
    /// Files read during this sample: when that is all of them, nothing is stale and `endSample`
    /// need not walk the table.
    private var touched = 0
    /// Descriptors opened over the table's life: with nothing changing on the host, this stops
    /// growing after the first sample (what the tests check).
    public private(set) var opens = 0

    public init(fs: HostFileSystem) {
        self.fs = fs
    }

    deinit {
        for slot in slots where slot.fd >= 0 { close(slot.fd) }
    }

    public var openCount: Int { slotOfKey.count }

    /// Reads the file from its start into `buffer` (at most `buffer.count` bytes) and returns how
    /// many bytes came. On any failure the descriptor is closed, so the next sample opens the path
    /// again (a cgroup re-created, a tid reused by another thread).
    /// `count` limits the read to the file's first bytes, when the caller knows what it needs is there.
    public func read(_ key: Key, path: @autoclosure () -> String, into buffer: inout [UInt8], count: Int? = nil) throws(HostError) -> Int {
        let fd = try descriptor(key, path)
        let wanted = min(count ?? buffer.count, buffer.count)
        var filled = 0
        while filled < wanted {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, wanted - filled, off_t(filled)) }
            if n < 0 {
                if errno == EINTR { continue }
                let failure = HostError(.read, path(), errno: errno)
                forget(key)
                throw failure
            }
            // procfs and regular files return less than asked only at the end: stop without the
            // extra read that would confirm it.
            filled += n
            if n == 0 || filled < wanted { break }
        }
        return filled
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
        let current = sample
        if touched != slotOfKey.count {
            let stale = slotOfKey.filter { slots[Int($0.value)].sample != current }
            for key in stale.keys { forget(key) }
        }
        touched = 0
        order.removeLast(order.count - position)
        position = 0
        sample &+= 1
    }

    @inline(__always)
    private func descriptor(_ key: Key, _ path: () -> String) throws(HostError) -> CInt {
        if position < order.count {
            let slot = Int(order[position])
            // A slot freed since, or reused by another file, fails the key or descriptor test.
            if slots[slot].key == key, slots[slot].fd >= 0 {
                position += 1
                mark(slot)
                return slots[slot].fd
            }
        }
        let slot = try lookUpOrOpen(key, path)
        if position < order.count { order[position] = slot } else { order.append(slot) }
        position += 1
        return slots[Int(slot)].fd
    }

    private func lookUpOrOpen(_ key: Key, _ path: () -> String) throws(HostError) -> Int32 {
        if let slot = slotOfKey[key] {
            mark(Int(slot))
            return slot
        }
        let hostPath = path()
        let resolved = fs.resolve(hostPath)
        // O_NOATIME: reading a host tree on disk (a fixture, a mounted image of another host) must
        // not write to it; the kernel allows it only to the owner or root, so fall back without.
        var fd = open(resolved, O_RDONLY | O_CLOEXEC | Self.noAccessTime)
        if fd < 0 && errno == EPERM { fd = open(resolved, O_RDONLY | O_CLOEXEC) }
        if fd < 0 { throw HostError(.open, hostPath, errno: errno) }
        let filled = Slot(key: key, fd: fd, sample: sample)
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slots[Int(slot)] = filled
        } else {
            slot = Int32(slots.count)
            slots.append(filled)
        }
        slotOfKey[key] = slot
        touched += 1
        opens += 1
        return slot
    }

    @inline(__always)
    private func mark(_ slot: Int) {
        if slots[slot].sample != sample {
            slots[slot].sample = sample
            touched += 1
        }
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

    /// Closes a file and frees its slot, so a stale place in the request order never reads through it.
    private func forget(_ key: Key) {
        guard let slot = slotOfKey.removeValue(forKey: key).map(Int.init) else { return }
        if slots[slot].sample == sample { touched -= 1 }
        close(slots[slot].fd)
        slots[slot].fd = -1
        freeSlots.append(Int32(slot))
    }
}
