#if canImport(Glibc)
import Glibc
#endif

/// A file a command writes (a trace.dat, an HTML page, a Perfetto timeline, a synthetic trace and
/// its truth). It is opened before the work, so a path that cannot be written is said at once and
/// not after minutes of analysis. A regular file is written under a hidden name beside its path
/// and renamed into place by `commit()`: a reader never sees half of it, and a run that fails or
/// is stopped leaves the previous file, or none. A device, FIFO or symbolic link is written in
/// place: renaming over `/dev/null` would replace the device.
public final class OutputFile {
    public let path: String
    public let descriptor: Int32
    /// The hidden name the file has until `commit()`; nil when written in place.
    private let temporary: String?
    private var committed = false

    public init(path: String) throws(OutputFileError) {
        self.path = path
        var info = stat()
        let exists = lstat(path, &info) == 0
        if exists && (info.st_mode & S_IFMT) == S_IFDIR { throw OutputFileError(path: path, problem: "is a directory") }
        if exists && (info.st_mode & S_IFMT) != S_IFREG {
            temporary = nil
            descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        } else {
            let slash = path.lastIndex(of: "/")
            let folder = slash.map { String(path[...$0]) } ?? ""
            let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
            let temporary = folder + ".\(name).hvtax-\(getpid())"
            self.temporary = temporary
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        // The error names the file asked for, not the hidden one.
        guard descriptor >= 0 else { throw OutputFileError(path: path, errno: errno) }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        if let temporary, !committed { unlink(temporary) }
    }

    /// Writes all of `bytes` at the current end.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(OutputFileError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw OutputFileError(path: path, errno: errno) }
            done += n
        }
    }

    public func write(_ bytes: [UInt8]) throws(OutputFileError) {
        // `withUnsafeBytes` rethrows untyped errors; carry the typed one out by hand.
        var failure: OutputFileError?
        bytes.withUnsafeBytes { raw in
            do throws(OutputFileError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public func write(_ text: String) throws(OutputFileError) {
        try write(Array(text.utf8))
    }

    /// Writes `bytes` at `offset` without moving the end (a header patched once its sizes are known).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(OutputFileError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw OutputFileError(path: path, errno: errno) }
            done += n
        }
    }

    public func write(_ bytes: [UInt8], at offset: UInt64) throws(OutputFileError) {
        var failure: OutputFileError?
        bytes.withUnsafeBytes { raw in
            do throws(OutputFileError) { try write(raw, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Flushes the file to disk (so a crash after this leaves all of it) and puts it in place.
    public func commit() throws(OutputFileError) {
        guard !committed else { return }
        // EINVAL: a device or pipe that cannot be synced, which is no failure.
        if fsync(descriptor) != 0 && errno != EINVAL { throw OutputFileError(path: path, errno: errno) }
        if let temporary, rename(temporary, path) != 0 { throw OutputFileError(path: path, errno: errno) }
        committed = true
    }

    /// A whole file at once: `text` under `path`, in place only when complete.
    public static func write(_ text: String, to path: String) throws(OutputFileError) {
        let file = try OutputFile(path: path)
        try file.write(text)
        try file.commit()
    }
}

/// A file that could not be written: its path and why, as `path: reason`.
public struct OutputFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public init(path: String, errno code: Int32) {
        self.init(path: path, problem: String(cString: strerror(code)))
    }

    public var description: String { "\(path): \(problem)" }
}
