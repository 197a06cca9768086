import HVTaxModel

/// What the analysis is asked for: thresholds, the time window, filters and VM names.
public struct AnalysisOptions: Sendable {
    public var thresholds: Thresholds
    /// Only figures for these; the time window (since/until) is relative to the trace's first event.
    public var filters: ReportFilters
    /// Names for VM processes, by pid (or, without pids in the trace, by the first vCPU thread id).
    public var vmNames: [Int32: String]

    public init(thresholds: Thresholds = .standard, filters: ReportFilters = ReportFilters(),
                vmNames: [Int32: String] = [:]) {
        self.thresholds = thresholds
        self.filters = filters
        self.vmNames = vmNames
    }
}
