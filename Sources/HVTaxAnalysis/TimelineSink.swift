import HVTaxEvents
import HVTaxModel

/// Receives every interval of every vCPU's state as the analysis finds it, in time order per vCPU
/// (not across vCPUs). Timeline exporters (Perfetto) and time series (tax over time) are sinks;
/// without one the analysis pays a single nil check per interval.
///
/// Intervals are as observed: in a trace without sched_switch the report counts HLT exit windows as
/// halted, but their intervals reach sinks as hypervisor (the analysis learns only at the end that
/// no sched_switch came).
public protocol TimelineSink: AnyObject {
    /// - Parameters:
    ///   - vcpu: the vCPU thread's identity (tid, pid when known, vcpu id when known)
    ///   - state: where the time went, [start, end) in trace time (absolute, the report's unit)
    ///   - exitReason: the reason symbol (SymbolTable.reasons) when the interval lies in an exit window
    func interval(vcpu: TimelineVCPU, state: VCPUState, start: UInt64, end: UInt64, exitReason: UInt32?)
    /// Called once, before any interval: where the analysed window starts.
    func begin(at start: UInt64)
}

extension TimelineSink {
    public func begin(at start: UInt64) {}
}

/// Who an interval belongs to.
public struct TimelineVCPU: Sendable, Hashable {
    public var tid: Int32
    public var pid: Int32
    public var vcpu: Int32

    public init(tid: Int32, pid: Int32, vcpu: Int32) {
        self.tid = tid
        self.pid = pid
        self.vcpu = vcpu
    }
}
