/// `tracing:` in the serve configuration: the optional tracing collector, which records kvm and
/// sched tracepoints into hvtax's own tracefs instance and serves what only a trace can measure
/// (the exit-duration histogram). Off by default: it needs root and costs CPU per event.
public struct TracingConfiguration: Codable, Sendable, Equatable {
    public var enabled = false
    /// A preset (`minimal`, `default`, `all-kvm`, as `hvtax record --events`) or a comma-separated
    /// `system:event` list.
    public var events = "minimal"
    /// Ring buffer per CPU, KiB: it must hold one sample interval's events.
    public var bufferKB = 4096

    public init(enabled: Bool = false, events: String = "minimal", bufferKB: Int = 4096) {
        self.enabled = enabled
        self.events = events
        self.bufferKB = bufferKB
    }

    enum CodingKeys: String, CodingKey { case enabled, events, bufferKB = "buffer_kb" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        events = try c.decodeIfPresent(String.self, forKey: .events) ?? events
        bufferKB = try c.decodeIfPresent(Int.self, forKey: .bufferKB) ?? bufferKB
    }
}
