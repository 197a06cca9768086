/// Typed reads of the sysfs files hvtax uses.
public struct Sysfs: Sendable {
    public let fs: HostFileSystem

    public init(_ fs: HostFileSystem) { self.fs = fs }

    /// A kernel module's presence, told apart the way the kernel exposes it: a loaded module is in
    /// /proc/modules and has /sys/module/NAME/initstate; a built-in one has /sys/module/NAME (when it
    /// has parameters) but neither of those.
    public func moduleState(_ name: String, loadedModules: Set<String>?) -> ModuleState {
        if loadedModules?.contains(name) == true { return .loaded }
        guard fs.isDirectory("/sys/module/\(name)") else { return .absent }
        return fs.exists("/sys/module/\(name)/initstate") ? .loaded : .builtIn
    }

    /// A CPU list file (`isolated`, `nohz_full`, `online`): nil when the file does not exist, which
    /// means something different (feature not built) from an empty list (feature off).
    public func cpuList(_ path: String) throws(HostError) -> CPUList? {
        let text: String
        do { text = try fs.readValue(path) } catch where error.isNotFound { return nil }
        guard let list = CPUList(text) else { throw HostError(.parse, path, reason: "not a CPU list: \(text)") }
        return list
    }

    /// The bracketed choice of a sysfs selector such as `always [madvise] never`.
    public func selectedChoice(_ path: String) throws(HostError) -> String? {
        Self.selectedChoice(in: try fs.readValue(path))
    }

    public static func selectedChoice(in text: String) -> String? {
        guard let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
        return String(text[text.index(after: open)..<close])
    }
}

public enum ModuleState: String, Sendable, Equatable {
    case loaded
    case builtIn = "built in"
    case absent
}

/// A kernel CPU list: `0-3,8,10-11`; empty text is the empty list.
public struct CPUList: Sendable, Equatable, CustomStringConvertible {
    public var cpus: [Int]

    /// The largest CPU id any kernel configuration allows is below 8,192 (x86 MAXSMP): ids past this
    /// are damage, and a range up to one would fill memory with CPUs.
    public static let maxCPU = 65_535

    public init(cpus: [Int]) { self.cpus = cpus.sorted() }

    public init?(_ text: String) {
        var cpus: [Int] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            switch bounds.count {
            case 1:
                guard let cpu = Int(bounds[0].trimmingSpaces), (0...Self.maxCPU).contains(cpu) else { return nil }
                cpus.append(cpu)
            case 2:
                guard let low = Int(bounds[0].trimmingSpaces), let high = Int(bounds[1].trimmingSpaces),
                    0 <= low, low <= high, high <= Self.maxCPU
                else { return nil }
                cpus.append(contentsOf: low...high)
            default:
                return nil
            }
        }
        self.cpus = cpus.sorted()
    }

    public var isEmpty: Bool { cpus.isEmpty }

    /// Back in the kernel's compact form.
    public var description: String {
        var parts: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count && cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(i == j ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
