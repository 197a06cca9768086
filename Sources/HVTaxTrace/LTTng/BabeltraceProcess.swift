#if canImport(Glibc)
import Glibc
#endif

/// `babeltrace2` converting a CTF trace directory to text, read through a pipe as a byte source.
/// Its stderr joins stdout, so its discarded-events warnings reach the reader in order.
final class BabeltraceProcess: ByteSource {
    /// A CTF trace is a folder with a `metadata` file; an LTTng session nests them a few levels
    /// down (kernel/, ust/uid/0/64-bit/). The walk stops after a bounded number of entries so that
    /// `hvtax report /` does not read the whole tree.
    static func holdsCTFMetadata(_ directory: String, entryBudget: Int = 10_000) -> Bool {
        var budget = entryBudget
        func walk(_ path: String, depth: Int) -> Bool {
            guard depth <= 6, let dir = opendir(path) else { return false }
            defer { closedir(dir) }
            var subfolders: [String] = []
            while budget > 0, let entry = readdir(dir) {
                budget -= 1
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." { continue }
                let child = path + "/" + name
                var info = stat()
                guard stat(child, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFREG where name == "metadata": return true
                case S_IFDIR: subfolders.append(child)
                default: break
                }
            }
            return subfolders.contains { walk($0, depth: depth + 1) }
        }
        return walk(directory, depth: 0)
    }

    private let fd: Int32
    private let pid: pid_t
    private let directory: String
    private var finished = false
    private(set) var consumedInputBytes: UInt64 = 0

    static let installHint = "install babeltrace2 to read CTF traces (apt-get install babeltrace2), or give hvtax the text of `babeltrace2 DIR`"

    /// The babeltrace2 executable on PATH, or nil.
    static func executable() -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = String(directory) + "/babeltrace2"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    init(directory: String) throws(TraceReadError) {
        self.directory = directory
        // Any directory given as a trace reaches here: say plainly when it holds no CTF trace,
        // rather than pass on what babeltrace2 makes of it.
        guard Self.holdsCTFMetadata(directory) else {
            throw TraceReadError(file: directory, location: "directory",
                                 problem: "no CTF trace in it (no 'metadata' file in it or its subfolders): a directory is read "
                                    + "only as an LTTng trace; give trace files by name")
        }
        guard let executable = Self.executable() else {
            throw TraceReadError(file: directory, location: "CTF trace directory", problem: Self.installHint)
        }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            throw TraceReadError(file: directory, location: "pipe", problem: String(cString: strerror(errno)))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        // Seconds since the epoch with nanoseconds, no deltas: one unambiguous time per line.
        let arguments = [executable, "--clock-seconds", "--no-delta", directory]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(pipeFDs[1])
        guard status == 0 else {
            close(pipeFDs[0])
            throw TraceReadError(file: directory, location: "babeltrace2", problem: "cannot run \(executable): \(String(cString: strerror(status)))")
        }
        fd = pipeFDs[0]
        pid = child
    }

    deinit {
        close(fd)
        if !finished {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                throw TraceReadError(file: directory, location: "babeltrace2 output", problem: String(cString: strerror(errno)))
            }
            consumedInputBytes += UInt64(n)
            return n
        }
    }

    /// Waits for babeltrace2; a failure becomes an error naming the directory and its last message.
    func finish(diagnostics: inout ReaderDiagnostics) throws(TraceReadError) {
        guard !finished else { return }
        finished = true
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exitCode == 0 else {
            let detail = diagnostics.malformedExamples.last.map { ": \($0.problem)" } ?? ""
            throw TraceReadError(file: directory, location: "babeltrace2", problem: "babeltrace2 exited with status \(exitCode)\(detail)")
        }
    }
}
