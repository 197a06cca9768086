import HVTaxEvents
import HVTaxModel

/// Filters and names that match nothing in the trace. A report filtered to a VM the trace does not
/// have is empty, which looks the same as a VM that did nothing: each such filter gets a note naming
/// what the trace does have, so a typo is not read as a finding.
struct UnmatchedFilters {
    var notes: [String] = []

    init(filters: ReportFilters, vmNames: [Int32: String], grouping: VMGrouping, trackers: [VCPUTracker],
         reasonNames: Set<String>, first: UInt64?, last: UInt64, window: AnalysisWindow, clock: ClockInfo) {
        let groups = grouping.groups
        let vms = groups.map { (name: $0.name, pid: $0.pid) }
        let vmList = VMSelection.listing(vms)
        notes += VMSelection(filters.vms).unmatched(among: vms, place: "in the trace")
        for pid in filters.pids where !groups.contains(where: { $0.pid == pid }) && !trackers.contains(where: { $0.tid == pid }) {
            notes.append("--pid \(pid) is neither a VM's process id nor a vCPU thread id in the trace; \(vmList)")
        }
        let vcpuIDs = Set(trackers.map(\.vcpu).filter { $0 >= 0 })
        for vcpu in filters.vcpus where !vcpuIDs.contains(vcpu) {
            notes.append("--vcpu \(vcpu) matches no vCPU in the trace; its vcpu ids are "
                + (vcpuIDs.isEmpty ? "unknown (no event names one)" : ShortList.text(vcpuIDs.sorted().map(String.init))))
        }
        for reason in filters.reasons where !reasonNames.contains(reason) {
            // Exits are counted inside the window only, so with one the list is the window's.
            let scope = filters.since != nil || filters.until != nil ? "window" : "trace"
            notes.append("--reason \(reason) is no exit reason in the \(scope); it has "
                + (reasonNames.isEmpty ? "no exits" : ShortList.text(reasonNames.sorted())))
        }
        // A name is keyed by a process id, or by a group's first vCPU thread where the trace has no pids.
        let named = Set(groups.map { $0.pid ?? trackers[$0.trackers[0]].tid })
        for pid in vmNames.keys.sorted() where !named.contains(pid) {
            notes.append("--vm-name \(pid)=\(vmNames[pid]!) names no VM in the trace; \(vmList)")
        }
        if let first {
            let length = last > first ? last - first : 0
            func text(_ ticks: UInt64) -> String {
                clock.unit == .ns ? "\(Double(ticks) / 1e9) s" : "\(ticks) ticks"
            }
            if let since = filters.since, window.start > last {
                notes.append("--since \(text(since)) starts after the trace's last event, \(text(length)) after its first: "
                    + "the window is empty")
            }
        }
    }
}
