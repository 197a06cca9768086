import HVTaxMetrics
import HVTaxModel
import HVTaxTracefs
import Logging

/// `tracing: {enabled: true}`: hvtax's own tracefs instance drained once per interval into the
/// running trace analysis (`TraceExitConsumer`), whose exit-duration histogram and exit counts go
/// into the published view. Status and failures are reported as the collector `tracing`, never as
/// zeros: a kernel whose KVM does not fire kvm_exit (a nested paravirtual guest, for one) gets no
/// histogram and a note saying so.
final class TracingCollector {
    private var session: LiveTraceSession?
    let consumer = TraceExitConsumer()
    private let logger: Logger
    private(set) var status: CollectorStatus
    private var lastError: String?

    init(configuration: TracingConfiguration, logger: Logger) {
        self.logger = logger
        let selection = EventSelection.parse(configuration.events) ?? EventSelection(events: EventSelection.presets["minimal"]!)
        do {
            let session = try LiveTraceSession(events: selection, bufferKB: configuration.bufferKB)
            for name in session.staleInstancesRemoved { logger.notice("removed a stale tracefs instance left by a killed run: \(name)") }
            if !session.missingEvents.isEmpty {
                logger.warning("tracing: this kernel has no \(session.missingEvents.joined(separator: ", ")); tracing without")
            }
            logger.notice("tracing \(session.events.joined(separator: ", ")) into \(session.instance.path), \(configuration.bufferKB) KiB per CPU")
            self.session = session
            status = CollectorStatus(name: "tracing", up: false, needsRoot: true, detail: "enabled, nothing read yet")
        } catch {
            logger.error("tracing collector not started: \(error)")
            lastError = "\(error)"
            status = CollectorStatus(name: "tracing", up: false, needsRoot: true,
                                     detail: "enabled, could not start (needs root and tracefs): \(error)")
        }
    }

    /// The tracefs instance while tracing (nil once stopped or when it could not start).
    var instancePath: String? { session?.instance.path }

    /// Drains the instance and returns this interval's families (cumulative since start).
    func step(vmLabels: [Int32: String], liveExitLabels: Set<String>) -> [MetricFamily] {
        guard let session else { return [] }
        var lost: UInt64 = 0
        do {
            let drained = try session.drain()
            lost = drained.lostSoFar
            if let bytes = drained.traceDat {
                try consumer.consume(traceDat: bytes, name: "\(session.instance.path) interval \(consumer.chunks + 1)")
            }
            lastError = nil
        } catch {
            if lastError != "\(error)" { logger.error("tracing: \(error)") }
            lastError = "\(error)"
        }
        let (families, report) = consumer.families(vmLabels: vmLabels, liveExitLabels: liveExitLabels)
        status = Self.status(report: report, lost: lost, error: lastError)
        return families.filter { !$0.samples.isEmpty }
    }

    /// Up only when kvm_exit/kvm_entry pairs were decoded, so that the histogram is real.
    static func status(report: TraceReport, lost: UInt64, error: String?) -> CollectorStatus {
        let kinds = report.quality.eventsByKind
        let exits = kinds["kvm_exit"] ?? 0
        let userspace = kinds["kvm_userspace_exit"] ?? 0
        var detail: String
        if let error {
            detail = "enabled, failing: \(error)"
        } else if exits == 0 {
            detail = userspace > 0
                ? "enabled, no kvm_exit events seen (the kernel's KVM does not fire kvm_exit here: \(userspace) kvm_userspace_exit events show vCPUs ran)"
                : "enabled, no kvm_exit events seen (no vCPU ran since start, or the kernel's KVM does not fire kvm_exit here)"
        } else {
            detail = "enabled, \(exits) kvm_exit events decoded since start"
        }
        if lost > 0 { detail += "; \(lost) events lost in the ring buffer (raise tracing.buffer_kb)" }
        return CollectorStatus(name: "tracing", up: error == nil && exits > 0, needsRoot: true, detail: detail)
    }

    /// Stops tracing and removes the instance.
    func stop() {
        guard let session else { return }
        do {
            try session.stop()
            logger.info("tracing stopped, \(session.instance.path) removed")
        } catch {
            logger.error("could not remove \(session.instance.path) (\(error)); `hvtax doctor --fix` will")
        }
        self.session = nil
    }
}
