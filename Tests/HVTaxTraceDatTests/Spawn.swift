#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn, with a clean signal mask and default handlers: test
/// runners block signals in their threads, and a child inheriting that mask ignores SIGTERM/SIGINT.
struct Child {
    let pid: pid_t

    /// Starts `path` with `arguments`; stdout goes to `stdoutPath` (or /dev/null), stderr to /dev/null.
    static func spawn(_ path: String, _ arguments: [String], stdoutPath: String? = nil) -> Child? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, &actions, &attributes, argv, environ) == 0 else { return nil }
        return Child(pid: pid)
    }

    /// Waits for the child and returns its exit status (128 + signal when a signal ended it).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    func signal(_ signal: Int32) { kill(pid, signal) }
}

/// The first of the usual directories that holds `program`, or nil when it is not installed.
func which(_ program: String) -> String? {
    ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"].map { "\($0)/\(program)" }.first { access($0, X_OK) == 0 }
}
