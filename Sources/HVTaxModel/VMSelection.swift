/// `--vm NAME|PID` as report, snapshot and validate take it: a VM is selected by its name or by its
/// process id, and a wanted name that selects nothing is said, with the VMs there are, so a typo
/// is not read as a VM that did nothing.
public struct VMSelection: Sendable, Equatable {
    public var wanted: [String]

    public init(_ wanted: [String]) {
        self.wanted = wanted
    }

    /// Everything is selected when nothing is wanted.
    public func selects(name: String, pid: Int32?) -> Bool {
        wanted.isEmpty || wanted.contains { $0 == name || (pid.map { String($0) } == $0) }
    }

    /// A sentence for each wanted name that selects none of `vms`; `place` is where they were
    /// looked for ("in the trace", "on this host").
    public func unmatched(among vms: [(name: String, pid: Int32?)], place: String) -> [String] {
        wanted.filter { want in !vms.contains { VMSelection([want]).selects(name: $0.name, pid: $0.pid) } }
            .map { "--vm \($0) matches no VM \(place); \(Self.listing(vms))" }
    }

    /// "its VMs are a (pid 1), b (pid 2)" or "it has no VMs".
    public static func listing(_ vms: [(name: String, pid: Int32?)]) -> String {
        guard !vms.isEmpty else { return "it has no VMs" }
        return "its VMs are " + ShortList.text(vms.map { vm in vm.pid.map { "\(vm.name) (pid \($0))" } ?? vm.name })
    }
}
