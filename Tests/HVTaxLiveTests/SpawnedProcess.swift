import Foundation

/// A child process started with posix_spawn, for what Foundation's Process cannot do: only stdin,
/// stdout and stderr handed down (a daemon the child forks, like the tmux server, keeps whatever
/// it gets, and Foundation's Process would then never see its child end), and a signal mask of
/// the test's choosing (Foundation's Process always clears it).
struct SpawnedProcess {
    let pid: pid_t

    /// Starts `executable` with stdin from /dev/null and stdout and stderr to `outputPath`,
    /// the signals in `blocked` blocked, the environment this process has plus `environment`.
    init(_ executable: String, _ arguments: [String], outputPath: String, blocked: [Int32] = [],
         environment: [String: String] = [:]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        try Self.closeFrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in blocked { sigaddset(&mask, signal) }
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw LiveTestFailure("posix_spawn \(executable): \(String(cString: strerror(spawned)))") }
        self.pid = pid
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), declared only under _GNU_SOURCE,
    /// which Swift's Glibc module does not set: found at run time.
    static func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) throws {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            throw LiveTestFailure("this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later has)")
        }
        let result = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
        guard result == 0 else { throw LiveTestFailure("posix_spawn_file_actions_addclosefrom_np: \(String(cString: strerror(result)))") }
    }

    /// Waits for the child's end, at most `timeoutSeconds` (nil: as long as it takes); returns its
    /// wait status, or nil if it still runs.
    func wait(timeoutSeconds: Double? = nil) throws -> Int32? {
        let deadline = timeoutSeconds.map { Date().addingTimeInterval($0) }
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, deadline == nil ? 0 : WNOHANG)
            if result == pid { return status }
            if result < 0 && errno != EINTR { throw LiveTestFailure("waitpid \(pid): errno \(errno)") }
            if let deadline, Date() >= deadline { return nil }
            if deadline != nil { usleep(20_000) }
        }
    }

    /// SIGKILL and reap, if it still runs.
    func kill() {
        if (try? wait(timeoutSeconds: 0)) ?? nil == nil {
            Glibc.kill(pid, SIGKILL)
            _ = try? wait()
        }
    }
}
