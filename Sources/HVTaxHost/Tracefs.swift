/// The tracing file system, found where the host mounted it. Capture code and the doctor share
/// this so that both look in the same place and agree on instance names.
public struct Tracefs: Sendable, Equatable {
    public enum Access: String, Sendable {
        /// A tracefs mount (normally /sys/kernel/tracing).
        case tracefsMount = "tracefs mount"
        /// debugfs's `tracing` directory, which the kernel automounts tracefs on (older setups).
        case debugfsTracing = "debugfs tracing directory"
    }

    public let fs: HostFileSystem
    /// The host path of the tracefs root.
    public let path: String
    public let access: Access

    public init(fs: HostFileSystem, path: String, access: Access) {
        self.fs = fs
        self.path = path
        self.access = access
    }

    public static let defaultMountPoint = "/sys/kernel/tracing"
    public static let mountCommand = "mount -t tracefs nodev /sys/kernel/tracing"

    /// The tracefs root for this host's mount table: a tracefs mount (the canonical mount point
    /// first), else debugfs's `tracing` directory when it holds events. Nil when neither exists.
    public static func locate(fs: HostFileSystem, mounts: [MountEntry]) -> Tracefs? {
        let tracefsMounts = mounts.mounts(ofType: "tracefs").map(\.mountPoint)
        if let point = tracefsMounts.first(where: { $0 == defaultMountPoint }) ?? tracefsMounts.first {
            return Tracefs(fs: fs, path: point, access: .tracefsMount)
        }
        for debugfs in mounts.mounts(ofType: "debugfs") {
            let candidate = join(debugfs.mountPoint, "tracing")
            if fs.isDirectory(join(candidate, "events")) {
                return Tracefs(fs: fs, path: candidate, access: .debugfsTracing)
            }
        }
        return nil
    }

    public func file(_ relative: String) -> String { Self.join(path, relative) }

    /// Event systems (kvm, sched, irq, ...).
    public func eventSystems() throws(HostError) -> [String] {
        try fs.list(file("events")).filter { fs.isDirectory(file("events/\($0)")) }
    }

    /// The events of one system: its subdirectories (the `enable` and `filter` files are not events).
    public func events(inSystem system: String) throws(HostError) -> [String] {
        try fs.list(file("events/\(system)")).filter { fs.isDirectory(file("events/\(system)/\($0)")) }
    }

    public func hasEvent(system: String, name: String) -> Bool {
        fs.isDirectory(file("events/\(system)/\(name)"))
    }

    /// Instance names: the subdirectories of `instances/` (each one is a separate ring buffer).
    public func instances() throws(HostError) -> [String] {
        try fs.list(file("instances")).filter { fs.isDirectory(file("instances/\($0)")) }
    }

    /// The clock the top-level buffer stamps events with, the bracketed one in `trace_clock`.
    public func traceClock() throws(HostError) -> String? {
        try Sysfs(fs).selectedChoice(file("trace_clock"))
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

/// hvtax names its tracefs instances `hvtax-PID` or `hvtax-PID-SUFFIX`, so that one left behind by
/// a killed run can be told from one a running hvtax is using (its PID still runs hvtax).
public enum HVTaxInstanceName {
    public static let prefix = "hvtax-"

    public static func make(pid: Int32, suffix: String? = nil) -> String {
        suffix.map { "\(prefix)\(pid)-\($0)" } ?? "\(prefix)\(pid)"
    }

    /// The owner's PID, or nil when the name is not hvtax's. A name with the prefix but no PID is
    /// still hvtax's (an older or hand-made one), reported with owner nil by `isHVTax`.
    public static func ownerPID(_ name: String) -> Int32? {
        guard name.hasPrefix(prefix) else { return nil }
        return Int32(name.dropFirst(prefix.count).prefix { $0.isASCII && $0.isNumber })
    }

    public static func isHVTax(_ name: String) -> Bool { name.hasPrefix(prefix) }
}
