#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Every host file hvtax reads (procfs, sysfs, tracefs, /etc, /boot, /dev) goes through one of
/// these, named by its path on the host ("/proc/mounts") and resolved under `root`. The live host
/// is root "/"; tests point root at a fixture tree shaped like another machine, and the same code
/// can inspect a mounted disk image. It is not a chroot: absolute symlinks inside the tree are not
/// re-rooted, which fixtures avoid.
public struct HostFileSystem: Sendable, Equatable {
    public let root: String

    public init(root: String = "/") {
        // Keep "/" as is and drop a trailing slash elsewhere, so resolve() joins with exactly one.
        var root = root.isEmpty ? "/" : root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
    }

    public static let live = HostFileSystem()

    public var isLiveRoot: Bool { root == "/" }

    /// The path to hand to the kernel for a host path.
    public func resolve(_ hostPath: String) -> String {
        precondition(hostPath.hasPrefix("/"), "host paths are absolute: \(hostPath)")
        return isLiveRoot ? hostPath : root + hostPath
    }

    // MARK: Reading

    /// The whole file, up to `limit` bytes. procfs and sysfs files report size 0, so this reads
    /// until end of file rather than trusting stat; the limit keeps a huge file read by mistake
    /// from eating memory, and the result then stops there. Not for blocking files (trace_pipe).
    public func read(_ path: String, limit: Int = 32 << 20) throws(HostError) -> [UInt8] {
        let fd = open(resolve(path), O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw HostError(.open, path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HostError(.read, path, errno: errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// Reads the file into `buffer` (from its start, at most `buffer.count` bytes) and returns how
    /// many bytes came. The live sampler reads thousands of small procfs files a second; reusing one
    /// buffer keeps it from allocating and zeroing a 64 KiB chunk per file as `read(_:limit:)` does.
    public func read(_ path: String, into buffer: inout [UInt8]) throws(HostError) -> Int {
        let fd = open(resolve(path), O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw HostError(.open, path, errno: errno) }
        defer { close(fd) }
        var filled = 0
        while filled < buffer.count {
            let n = buffer.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HostError(.read, path, errno: errno)
            }
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// The file as text; bytes that are not UTF-8 become U+FFFD rather than failing, because a
    /// comm or cmdline may hold anything.
    public func readText(_ path: String) throws(HostError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// The file's text without the trailing newline sysfs and procfs put after a single value.
    public func readValue(_ path: String) throws(HostError) -> String {
        var text = try readText(path)
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        return text
    }

    /// Directory entries, sorted, without "." and "..".
    public func list(_ path: String) throws(HostError) -> [String] {
        var names: [String] = []
        try forEachEntry(path) { raw in
            let name = String(decoding: raw, as: UTF8.self)
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The entries whose names are decimal numbers (pids under /proc, tids under task), in the
    /// order the directory gives them, parsed from the directory entry without building a String:
    /// the live sampler lists /proc every interval.
    public func numericEntries(_ path: String) throws(HostError) -> [Int32] {
        var numbers: [Int32] = []
        try forEachEntry(path) { raw in
            var value: Int32 = 0
            for byte in raw {
                let digit = byte &- 48
                guard digit <= 9, value < 100_000_000 else { return }
                value = value &* 10 &+ Int32(digit)
            }
            if !raw.isEmpty { numbers.append(value) }
        }
        return numbers
    }

    /// Each entry's name as the bytes of its directory entry (up to its NUL), in directory order.
    private func forEachEntry(_ path: String, _ body: (UnsafeRawBufferPointer.SubSequence) -> Void) throws(HostError) {
        guard let dir = opendir(resolve(path)) else { throw HostError(.list, path, errno: errno) }
        defer { closedir(dir) }
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw HostError(.list, path, errno: errno) }
                return
            }
            withUnsafeBytes(of: entry.pointee.d_name) { raw in body(raw.prefix { $0 != 0 }) }
        }
    }

    // MARK: Metadata

    public func status(_ path: String, followSymlinks: Bool = true) throws(HostError) -> FileStatus {
        var st = stat()
        let rc = followSymlinks ? stat(resolve(path), &st) : lstat(resolve(path), &st)
        if rc != 0 { throw HostError(.stat, path, errno: errno) }
        return FileStatus(st)
    }

    public func exists(_ path: String) -> Bool {
        (try? status(path)) != nil
    }

    public func isDirectory(_ path: String) -> Bool {
        (try? status(path))?.kind == .directory
    }
}

/// The parts of stat(2) the checks reason about.
public struct FileStatus: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case regular, directory, characterDevice, blockDevice, symlink, fifo, socket, unknown
    }

    public var kind: Kind
    /// Permission bits, including setuid/setgid/sticky (mode & 0o7777).
    public var permissions: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// For device nodes: the major and minor numbers (/dev/kvm is 10:232).
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Hard links. For a procfs `/proc/PID/task` folder it grows with the process's thread count,
    /// as a folder's does with its subfolders on a regular file system: the live sampler stats it
    /// to see whether threads came or went without listing the folder.
    public var linkCount: UInt64

    public init(
        kind: Kind, permissions: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, deviceMajor: UInt32 = 0,
        deviceMinor: UInt32 = 0, linkCount: UInt64 = 1
    ) {
        self.kind = kind
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.linkCount = linkCount
    }

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFLNK: kind = .symlink
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        default: kind = .unknown
        }
        permissions = UInt32(st.st_mode & 0o7777)
        uid = st.st_uid
        gid = st.st_gid
        linkCount = UInt64(st.st_nlink)
        // glibc's major()/minor() are macros Swift cannot import; this is their encoding.
        let dev = UInt64(st.st_rdev)
        deviceMajor = UInt32(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
        deviceMinor = UInt32((dev & 0xff) | ((dev >> 12) & ~0xff))
    }

    /// `crw-rw----`, as ls prints it.
    public var modeString: String {
        let type: Character =
            switch kind {
            case .regular: "-"
            case .directory: "d"
            case .characterDevice: "c"
            case .blockDevice: "b"
            case .symlink: "l"
            case .fifo: "p"
            case .socket: "s"
            case .unknown: "?"
            }
        var out = String(type)
        for shift in [6, 3, 0] as [UInt32] {
            let bits = (permissions >> shift) & 0o7
            out.append(bits & 4 != 0 ? "r" : "-")
            out.append(bits & 2 != 0 ? "w" : "-")
            out.append(bits & 1 != 0 ? "x" : "-")
        }
        return out
    }

    public var isExecutableByAnyone: Bool { permissions & 0o111 != 0 }

    /// Whether `identity` may open the file with the requested access by the classic owner, group,
    /// other rules (root may always). ACLs and capabilities other than root are not considered.
    public func allows(_ identity: ProcessIdentity, read: Bool, write: Bool) -> Bool {
        if identity.uid == 0 { return true }
        let shift: UInt32 =
            identity.uid == uid ? 6 : (identity.gid == gid || identity.groups.contains(gid)) ? 3 : 0
        let bits = (permissions >> shift) & 0o7
        return (!read || bits & 4 != 0) && (!write || bits & 2 != 0)
    }
}

/// read(2), named apart from `HostFileSystem.read(_:)` which would otherwise shadow it.
private func systemRead(_ fd: CInt, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
