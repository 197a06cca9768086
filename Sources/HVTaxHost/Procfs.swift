/// Typed reads of the procfs files hvtax uses. Each parser is a static function over text, so it
/// is tested on literal strings; the reader only adds the path and the host root.
public struct Procfs: Sendable {
    public let fs: HostFileSystem

    public init(_ fs: HostFileSystem) { self.fs = fs }

    public func mounts() throws(HostError) -> [MountEntry] {
        MountEntry.parseTable(try fs.readText("/proc/mounts"))
    }

    public func cpuInfo() throws(HostError) -> CPUInfo {
        CPUInfo.parse(try fs.readText("/proc/cpuinfo"))
    }

    public func cpuTimes() throws(HostError) -> CPUTimes {
        let text = try fs.readText("/proc/stat")
        guard let times = CPUTimes.parseStat(text) else {
            throw HostError(.parse, "/proc/stat", reason: "no aggregate `cpu` line")
        }
        return times
    }

    public func memInfo() throws(HostError) -> MemInfo {
        MemInfo.parse(try fs.readText("/proc/meminfo"))
    }

    public func commandLine() throws(HostError) -> KernelCommandLine {
        KernelCommandLine(try fs.readValue("/proc/cmdline"))
    }

    /// The modules /proc/modules lists, or nil when the file is absent: a kernel built without
    /// module support (CONFIG_MODULES off) has none, and everything it has is built in.
    public func loadedModules() throws(HostError) -> Set<String>? {
        let text: String
        do { text = try fs.readText("/proc/modules") } catch where error.isNotFound { return nil }
        return Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
    }

    public func kernelRelease() throws(HostError) -> String { try fs.readValue("/proc/sys/kernel/osrelease") }
    public func hostname() throws(HostError) -> String { try fs.readValue("/proc/sys/kernel/hostname") }

    /// Running processes by pid and comm. Processes that exit while being listed are skipped:
    /// that race is normal, not an error.
    public func processes() throws(HostError) -> [(pid: Int32, comm: String)] {
        var out: [(pid: Int32, comm: String)] = []
        for name in try fs.list("/proc") {
            guard let pid = Int32(name) else { continue }
            if let comm = try? fs.readValue("/proc/\(pid)/comm") { out.append((pid, comm)) }
        }
        return out.sorted { $0.pid < $1.pid }
    }
}

/// One line of /proc/mounts.
public struct MountEntry: Sendable, Equatable {
    public var source: String
    public var mountPoint: String
    public var fsType: String
    public var options: [String]

    public init(source: String, mountPoint: String, fsType: String, options: [String]) {
        self.source = source
        self.mountPoint = mountPoint
        self.fsType = fsType
        self.options = options
    }

    public static func parseTable(_ text: String) -> [MountEntry] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 4 else { return nil }
            return MountEntry(
                source: unescape(f[0]), mountPoint: unescape(f[1]), fsType: String(f[2]),
                options: f[3].split(separator: ",").map(String.init))
        }
    }

    /// The kernel writes space, tab, newline and backslash in paths as octal escapes (`\040`).
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var out: [UInt8] = []
        let bytes = Array(field.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
                let value = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                out.append(value)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension [MountEntry] {
    public func mounts(ofType type: String) -> [MountEntry] { filter { $0.fsType == type } }
}

/// The facts of /proc/cpuinfo that matter: the first processor's flags and vendor (flags are the
/// same on every CPU of a host), and the number of processors.
public struct CPUInfo: Sendable, Equatable {
    public var vendor: String?
    public var modelName: String?
    public var flags: Set<String>
    public var processorCount: Int

    public init(vendor: String? = nil, modelName: String? = nil, flags: Set<String> = [], processorCount: Int = 0) {
        self.vendor = vendor
        self.modelName = modelName
        self.flags = flags
        self.processorCount = processorCount
    }

    public static func parse(_ text: String) -> CPUInfo {
        var info = CPUInfo()
        var sawFlags = false
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingSpaces
            let value = line[line.index(after: colon)...].trimmingSpaces
            switch key {
            case "processor": info.processorCount += 1
            case "vendor_id" where info.vendor == nil: info.vendor = String(value)
            case "model name" where info.modelName == nil: info.modelName = String(value)
            case "flags" where !sawFlags:
                info.flags = Set(value.split(separator: " ").map(String.init))
                sawFlags = true
            default: break
            }
        }
        return info
    }
}

/// The aggregate `cpu` line of /proc/stat, in USER_HZ ticks.
public struct CPUTimes: Sendable, Equatable {
    public var user, nice, system, idle, iowait, irq, softirq, steal, guest, guestNice: UInt64

    /// guest and guest_nice are already inside user and nice, so they are not added again.
    public var totalTicks: UInt64 { user + nice + system + idle + iowait + irq + softirq + steal }

    public static func parseStat(_ text: String) -> CPUTimes? {
        for line in text.split(separator: "\n") where line.hasPrefix("cpu ") {
            let v = line.split(separator: " ").dropFirst().map { UInt64($0) ?? 0 }
            func at(_ i: Int) -> UInt64 { i < v.count ? v[i] : 0 }
            return CPUTimes(
                user: at(0), nice: at(1), system: at(2), idle: at(3), iowait: at(4), irq: at(5),
                softirq: at(6), steal: at(7), guest: at(8), guestNice: at(9))
        }
        return nil
    }
}

/// /proc/meminfo as `key -> value` (in kB where the file says kB, else a count).
public struct MemInfo: Sendable, Equatable {
    public var values: [String: UInt64]

    public subscript(key: String) -> UInt64? { values[key] }

    public static func parse(_ text: String) -> MemInfo {
        var values: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let number = line[line.index(after: colon)...].split(separator: " ").first
            if let number, let value = UInt64(number) { values[String(line[..<colon])] = value }
        }
        return MemInfo(values: values)
    }
}

/// /proc/cmdline, split the way the kernel splits it (quotes group spaces); `--` ends the kernel's
/// own parameters and starts init's, which must not be mistaken for kernel settings.
public struct KernelCommandLine: Sendable, Equatable {
    public var raw: String
    public var parameters: [(key: String, value: String?)]

    public init(_ raw: String) {
        self.raw = raw
        var params: [(key: String, value: String?)] = []
        var word = ""
        var quoted = false
        func flush() {
            guard !word.isEmpty else { return }
            if let eq = word.firstIndex(of: "=") {
                params.append((String(word[..<eq]), String(word[word.index(after: eq)...])))
            } else {
                params.append((word, nil))
            }
            word = ""
        }
        for ch in raw {
            if ch == "\"" {
                quoted.toggle()
            } else if ch.isWhitespace && !quoted {
                if word == "--" {
                    word = ""
                    break
                }
                flush()
            } else {
                word.append(ch)
            }
        }
        if word != "--" { flush() }
        self.parameters = params
    }

    /// The last value given for `key` (the kernel lets later ones win).
    public func value(_ key: String) -> String? {
        parameters.last { $0.key == key }?.value
    }

    public func contains(_ key: String) -> Bool { parameters.contains { $0.key == key } }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.raw == rhs.raw }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
