/// Which source of exit rates the live sampler may use. `auto` tries KVM's debugfs, then kvm
/// tracepoint counters; naming one confines it to that source; `off` reads neither.
///
/// Why a user picks one: the tracepoint counters are perf events on every vCPU thread (18 each
/// here), read in a group per thread every interval (the biggest cost of a sample after the procfs
/// files on a real host) and switched out and in with the thread at every context switch, which the
/// vCPU pays (+4 us a switch on this nested guest; docs/live.md, "On the real procfs"). debugfs,
/// where readable, costs a file per VM and reason and nothing on the vCPUs.
public enum ExitRateChoice: String, CaseIterable, Codable, Sendable {
    case auto
    case debugfs
    case tracepoints
    case off

    var triesDebugfs: Bool { self == .auto || self == .debugfs }
    var triesTracepoints: Bool { self == .auto || self == .tracepoints }
}
