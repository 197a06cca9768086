/// Everything the trace could not tell cleanly, counted so nothing is silently dropped.
public struct TraceQuality: Codable, Sendable, Equatable {
    /// A problem at a place in an input file.
    public struct LineIssue: Codable, Sendable, Equatable {
        public var file: String
        public var line: UInt64
        public var problem: String

        public init(file: String, line: UInt64, problem: String) {
            self.file = file
            self.line = line
            self.problem = problem
        }
    }

    /// Events the kernel dropped on one CPU (`CPU:N [LOST M EVENTS]`).
    public struct LostEvents: Codable, Sendable, Equatable {
        public var cpu: Int32
        /// Events the kernel said it lost, summed over the gaps that carried a count.
        public var events: UInt64
        /// Gaps in this CPU's events, counted or not.
        public var occurrences: UInt64
        /// Gaps of unknown size: the kernel flagged lost events without storing how many, or the
        /// file ends inside this CPU's data (a truncated trace.dat). nil when there were none.
        public var uncounted: UInt64?

        public init(cpu: Int32, events: UInt64, occurrences: UInt64, uncounted: UInt64? = nil) {
            self.cpu = cpu
            self.events = events
            self.occurrences = occurrences
            self.uncounted = uncounted
        }
    }

    public var events: UInt64 = 0
    public var eventsByKind: [String: UInt64] = [:]
    public var lost: [LostEvents] = []
    /// A kvm_exit followed by another kvm_exit of the same thread with no entry between.
    public var unpairedExits: UInt64 = 0
    /// A kvm_entry with no exit before it (other than a thread's first entry).
    public var unpairedEntries: UInt64 = 0
    /// Exit windows still open when the trace ended (no latency recorded for them).
    public var exitsOpenAtEnd: UInt64 = 0
    /// Exit windows cut by lost events on the vCPU's CPU: counted, but no latency recorded.
    public var exitsBrokenByLostEvents: UInt64 = 0
    /// kvm_exit without a vcpu id (libtraceevent's kvm plugin): id taken from the thread's last entry.
    public var exitsWithInferredVCPU: UInt64 = 0
    /// kvm_exit without a vcpu id and no earlier entry on the thread to take it from.
    public var exitsWithoutVCPU: UInt64 = 0
    public var failedVMEntries: UInt64 = 0
    /// Reasons that are in neither the VMX nor the SVM table (`UNKNOWN (N)`, bare numbers).
    public var unknownReasons: [String: UInt64] = [:]
    /// Event names hvtax does not use, with their counts.
    public var unknownEvents: [String: UInt64] = [:]
    /// Events that arrived out of timestamp order and were put back in order.
    public var reorderedEvents: UInt64 = 0
    /// Events that arrived later than the reorder window allows: processed at their vCPU's last time.
    public var lateEvents: UInt64 = 0
    /// Events more than 52 days (2^52 ns or ticks) from the trace's first: a damaged timestamp, left
    /// out of the analysis. Optional so reports written before it was counted still decode.
    public var eventsOutOfRange: UInt64? = 0
    public var malformedLines: UInt64 = 0
    /// The first malformed lines, as examples.
    public var malformedExamples: [LineIssue] = []
    /// Files whose last line ended without a newline and could not be parsed.
    public var truncatedFiles: [String] = []
    public var hasSchedSwitch = false
    public var hasUserspaceExits = false
    public var hasIRQEvents = false
    public var hasExitEvents = false
    /// The states whose time includes off-CPU time because sched_switch events are absent.
    public var statesIncludingOffCPU: [VCPUState] = []
    /// How vCPU threads were grouped into VMs: `tgid` (from the trace) or `thread-names`.
    public var vmGrouping: String = "tgid"
    /// Plain-language notes on what the figures can and cannot show.
    public var notes: [String] = []

    public init() {}

    public var lostTotal: UInt64 { lost.reduce(0) { $0 + $1.events } }
    /// Gaps of unknown size over all CPUs.
    public var uncountedGaps: UInt64 { lost.reduce(0) { $0 + ($1.uncounted ?? 0) } }
}
