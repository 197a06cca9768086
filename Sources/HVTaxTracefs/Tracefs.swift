#if canImport(Glibc)
import Glibc
#endif

/// A tracefs operation that failed: which file, what hvtax tried, and the errno text.
public struct TracefsError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var action: String
    public var problem: String

    public init(path: String, action: String, problem: String) {
        self.path = path
        self.action = action
        self.problem = problem
    }

    public var description: String { "\(path): \(action): \(problem)" }

    static func errno(_ path: String, _ action: String) -> TracefsError {
        TracefsError(path: path, action: action, problem: String(cString: strerror(Glibc.errno)))
    }
}

/// The tracefs mount: where to find it, mounting it when it is absent, and small file helpers.
/// hvtax writes tracefs files directly and never touches /proc/sys/kernel/ftrace_enabled, which is
/// not writable on some hosts (and which `trace-cmd record` insists on).
public struct Tracefs: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public static let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    /// The mounted tracefs, mounting it at /sys/kernel/tracing when none is (needs root).
    public static func locate(mountIfAbsent: Bool = true) throws(TracefsError) -> Tracefs {
        for candidate in candidates where access(candidate + "/instances", F_OK) == 0 {
            return Tracefs(root: candidate)
        }
        guard mountIfAbsent else {
            throw TracefsError(path: candidates[0], action: "find tracefs",
                               problem: "not mounted (mount -t tracefs nodev /sys/kernel/tracing)")
        }
        guard mount("nodev", candidates[0], "tracefs", 0, nil) == 0 else {
            throw TracefsError(path: candidates[0], action: "mount -t tracefs nodev /sys/kernel/tracing",
                               problem: String(cString: strerror(errno)) + (getuid() == 0 ? "" : " (run as root)"))
        }
        return Tracefs(root: candidates[0])
    }

    public func path(_ relative: String) -> String { root + "/" + relative }

    public static func read(_ path: String, limit: Int = 1 << 20) throws(TracefsError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .errno(path, "open") }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result.count < limit {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .errno(path, "read") }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Writes a control file in one write(2), as tracefs parses each write on its own.
    public static func write(_ path: String, _ text: String, append: Bool = false) throws(TracefsError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC))
        guard fd >= 0 else { throw .errno(path, "open for writing") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw .errno(path, "write \"\(text.prefix(60))\"") }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func directoryEntries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
