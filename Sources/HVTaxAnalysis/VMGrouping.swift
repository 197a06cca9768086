import HVTaxEvents
import HVTaxModel

/// Groups vCPU threads into VMs: by process id when the trace has it, otherwise by thread ids
/// (a VMM creates its vCPU threads together, and one VM never has two threads with one vcpu id).
struct VMGrouping {
    struct Group {
        var name: String
        var pid: Int32?
        var trackers: [Int]
    }

    private(set) var groups: [Group] = []
    private(set) var method = "tgid"

    init(trackers: [VCPUTracker], names: [Int32: UInt32], symbols: SymbolTable, vmNames: [Int32: String]) {
        var byPid: [Int32: [Int]] = [:]
        var orphans: [Int] = []
        for (index, tracker) in trackers.enumerated() {
            if tracker.tgid >= 0 { byPid[tracker.tgid, default: []].append(index) } else { orphans.append(index) }
        }
        for pid in byPid.keys.sorted() {
            let comm = names[pid].map { symbols.names.string($0) } ?? ""
            let name = vmNames[pid] ?? (comm.isEmpty || comm == "<...>" ? "pid-\(pid)" : "\(comm)-\(pid)")
            groups.append(Group(name: name, pid: pid, trackers: byPid[pid]!))
        }
        guard !orphans.isEmpty else { return }
        method = byPid.isEmpty ? "thread-ids" : "tgid, thread-ids for some"
        orphans.sort { trackers[$0].tid < trackers[$1].tid }
        var current: [Int] = []
        var ids = Set<Int32>()
        func close() {
            guard let first = current.first else { return }
            let tid = trackers[first].tid
            groups.append(Group(name: vmNames[tid] ?? "vm-\(tid)", pid: nil, trackers: current))
            current = []
            ids = []
        }
        for index in orphans {
            let vcpu = trackers[index].vcpu
            if vcpu >= 0 && ids.contains(vcpu) { close() }
            current.append(index)
            if vcpu >= 0 { ids.insert(vcpu) }
        }
        close()
    }
}
