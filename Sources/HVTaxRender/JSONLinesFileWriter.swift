import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Appends lines to a file (or stdout) from any thread, each line with a single write(2), so a
/// reader tailing the file never sees half a line and a crash leaves every finished line intact.
public final class JSONLinesFileWriter: Sendable {
    private let fd: Int32
    private let ownsDescriptor: Bool
    /// The errno of the first failed write, if any (e.g. ENOSPC): the file is then incomplete.
    private let failure = Mutex<Int32?>(nil)

    public enum OpenError: Error, CustomStringConvertible {
        case cannotOpen(path: String, errno: Int32)

        public var description: String {
            switch self {
            case .cannotOpen(let path, let code):
                "cannot open \(path) for writing: \(String(cString: strerror(code))); check the directory exists and is writable"
            }
        }
    }

    /// Truncates or creates `path`; "-" means standard output.
    public init(path: String) throws(OpenError) {
        if path == "-" {
            fd = STDOUT_FILENO
            ownsDescriptor = false
            return
        }
        let opened = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard opened >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        fd = opened
        ownsDescriptor = true
    }

    deinit {
        if ownsDescriptor { close(fd) }
    }

    /// Writes `line` (which must end with a newline) whole.
    public func write(_ line: String) {
        let bytes = Array(line.utf8)
        failure.withLock { failed in
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { buffer in
                    Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    if failed == nil { failed = errno }
                    return
                }
                offset += written
            }
        }
    }

    /// Why the file is incomplete, when a write failed.
    public var writeError: String? {
        failure.withLock { $0.map { String(cString: strerror($0)) } }
    }
}
