#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who the checks run as. Permission verdicts (can this user open /dev/kvm, write tracefs) depend
/// on it, and tests substitute an unprivileged user to exercise those verdicts.
public struct ProcessIdentity: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var groups: [UInt32]

    public init(uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// The effective ids of this process, because those are what open(2) checks.
    public static func current() -> ProcessIdentity {
        let count = getgroups(0, nil)
        var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
        let filled = count > 0 ? getgroups(count, &groups) : 0
        return ProcessIdentity(uid: geteuid(), gid: getegid(), groups: Array(groups.prefix(Int(max(filled, 0)))))
    }

    public var isRoot: Bool { uid == 0 }
}

/// User and group names from the host's /etc/passwd and /etc/group (read under the host root, so a
/// fixture brings its own), for lines such as "crw-rw---- root:kvm".
public struct AccountNames: Sendable, Equatable {
    public var users: [UInt32: String]
    public var groups: [UInt32: String]

    public init(users: [UInt32: String] = [:], groups: [UInt32: String] = [:]) {
        self.users = users
        self.groups = groups
    }

    /// Missing files give empty tables: names are a courtesy, numbers are always shown otherwise.
    public static func read(_ fs: HostFileSystem) -> AccountNames {
        func table(_ path: String) -> [UInt32: String] {
            guard let text = try? fs.readText(path) else { return [:] }
            var out: [UInt32: String] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let fields = line.split(separator: ":", omittingEmptySubsequences: false)
                if fields.count > 2, let id = UInt32(fields[2]), out[id] == nil { out[id] = String(fields[0]) }
            }
            return out
        }
        return AccountNames(users: table("/etc/passwd"), groups: table("/etc/group"))
    }

    public func user(_ uid: UInt32) -> String { users[uid] ?? String(uid) }
    public func group(_ gid: UInt32) -> String { groups[gid] ?? String(gid) }
    public func groupID(named name: String) -> UInt32? { groups.first { $0.value == name }?.key }
}
