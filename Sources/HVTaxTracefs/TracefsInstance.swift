#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// How many instances this process has created: the first is `hvtax-PID`, later ones (a library
/// user, or tests, recording twice at once) `hvtax-PID-N`, so they never share a name.
private let instancesCreated = Atomic<Int>(0)

/// hvtax's own tracefs instance, `instances/hvtax-<pid>`: a private ring buffer, so recording never
/// touches the global buffer or another tool's session. Everything it turns on, it turns off.
public final class TracefsInstance {
    public static let prefix = "hvtax-"

    public let tracefs: Tracefs
    public let name: String
    public let path: String
    public private(set) var removed = false
    /// What this run changed, in order, so teardown can say what it undid.
    public private(set) var enabledEvents: [String] = []

    /// Creates `instances/hvtax-<pid>` (the pid of this process; `hvtax-<pid>-N` for this process's
    /// later instances).
    public init(tracefs: Tracefs, pid: Int32 = getpid()) throws(TracefsError) {
        self.tracefs = tracefs
        let serial = instancesCreated.wrappingAdd(1, ordering: .relaxed).oldValue
        name = Self.prefix + String(pid) + (serial == 0 ? "" : "-\(serial)")
        path = tracefs.path("instances/" + name)
        if Tracefs.exists(path) {
            // This process never made this name before, so an instance with it was left by an
            // earlier process that had this pid.
            try Self.remove(path: path)
        }
        guard mkdir(path, 0o750) == 0 else { throw .errno(path, "mkdir (create the tracefs instance)") }
    }

    public func file(_ relative: String) -> String { path + "/" + relative }

    public func write(_ relative: String, _ text: String) throws(TracefsError) {
        try Tracefs.write(file(relative), text)
    }

    public func read(_ relative: String) throws(TracefsError) -> String {
        try Tracefs.read(file(relative))
    }

    public func enable(event: String) throws(TracefsError) {
        try write("events/\(event)/enable", "1")
        enabledEvents.append(event)
    }

    /// Turns everything off and removes the instance; safe to call more than once.
    public func remove() throws(TracefsError) {
        guard !removed else { return }
        try Self.remove(path: path)
        removed = true
    }

    deinit { try? remove() }

    /// Stops tracing in an instance and removes it. Events are disabled first: rmdir of an
    /// instance with enabled events works on current kernels, but not on every older one.
    static func remove(path: String) throws(TracefsError) {
        _ = try removeIfPresent(path: path)
    }

    /// `remove(path:)` that returns false, instead of failing, when the instance is already gone:
    /// two hvtax runs that start together (or `hvtax doctor --fix` beside a starting record) both
    /// find the same stale instance, and the one that comes second must not fail on it.
    static func removeIfPresent(path: String) throws(TracefsError) -> Bool {
        try? Tracefs.write(path + "/tracing_on", "0")
        try? Tracefs.write(path + "/events/enable", "0")
        try? Tracefs.write(path + "/set_event_pid", "")
        var attempts = 0
        while rmdir(path) != 0 {
            if errno == ENOENT { return false }
            // EBUSY while a reader still has a trace_pipe_raw open: give it a moment.
            guard errno == EBUSY, attempts < 50 else { throw .errno(path, "rmdir (remove the tracefs instance)") }
            attempts += 1
            usleep(20_000)
        }
        return true
    }

    /// A `hvtax-<pid>` instance whose process is gone, left by a run that was killed (SIGKILL, a
    /// crash, a power cut during recording).
    public struct Stale: Sendable, Equatable {
        public var name: String
        public var pid: Int32
        public var path: String
    }

    /// The stale hvtax instances under this tracefs; `hvtax doctor` reports these.
    public static func stale(in tracefs: Tracefs) -> [Stale] {
        Tracefs.directoryEntries(tracefs.path("instances")).compactMap { name in
            // `hvtax-PID` or `hvtax-PID-SUFFIX`, as `hvtax doctor` names them too.
            guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count).prefix { $0.isASCII && $0.isNumber }) else { return nil }
            // kill(pid, 0) fails with ESRCH when no such process exists; EPERM means it does.
            let alive = kill(pid, 0) == 0 || errno == EPERM
            return alive ? nil : Stale(name: name, pid: pid, path: tracefs.path("instances/" + name))
        }
    }

    /// Removes the stale hvtax instances and returns what it removed (not those another run removed
    /// first); `hvtax doctor --fix` and every `hvtax record` call this.
    @discardableResult
    public static func cleanStale(in tracefs: Tracefs) throws(TracefsError) -> [Stale] {
        var removed: [Stale] = []
        for instance in stale(in: tracefs) {
            if try removeIfPresent(path: instance.path) { removed.append(instance) }
        }
        return removed
    }
}
