import ArgumentParser
import HVTaxAdvice
import HVTaxExporters
import HVTaxMetrics
import HVTaxOTLP
import Logging
import ServiceLifecycle
import HVTaxHost
import HVTaxModel
import HVTaxRender

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `hvtax snapshot`: the live figures for scripts, one interval after another.
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Sample every VM on this host over an interval: per vCPU on-CPU, steal, user/system/guest, switches; per VM cgroup and VMM overhead.",
        discussion: """
            Prints one interval after another (--count of them). JSON is one object per line and interval \
            (schema hvtax.snapshot/1, see docs/live.md); CSV is long form with one header.
            """)

    @OptionGroup var output: OutputOptions
    @OptionGroup var thresholdOptions: ThresholdOptions

    @Option(help: "Length of each interval: 1s, 500ms, 2.5s.")
    var interval: DurationArgument = DurationArgument(argument: "1s")!

    @Option(help: "How many intervals to print.")
    var count: Int = 1

    @Option(name: .customLong("vm"), help: ArgumentHelp("Only this VM (name or pid); repeatable.", valueName: "name"))
    var vms: [String] = []

    @Option(help: "Read /proc and /sys under this directory instead of / (a fixture tree).")
    var root: String = "/"

    @OptionGroup var exitRateOptions: ExitRateOptions

    @OptionGroup var influx: InfluxOptions

    @OptionGroup var otlpOptions: OTLPOptions

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard interval.nanoseconds >= 10_000_000 else { throw ValidationError("--interval must be at least 10ms") }
    }

    func run() async throws {
        let loop = try LiveLoop(root: root, thresholds: thresholdOptions.thresholds(), filter: vms, exitRates: exitRateOptions.exitRates)
        let writer = try influx.writer()
        // The serve metrics' counters run from the first interval, as in hvtax serve; built only
        // when something exports them (they cost more than the sample itself on a big host).
        var metrics = LiveMetrics()
        let exportsMetrics = output.format == .influx || writer != nil || otlpOptions.otlpEndpoint != nil
        // swift-otel exports on its own interval (and once more when stopped): started beside the loop.
        let otlp = try otlpOptions.exporter(intervalNs: interval.nanoseconds)
        let group = otlp.map { ServiceGroup(services: [$0.service], logger: Logger(label: "hvtax.otlp")) }
        let exporting = group.map { group in Task { try await group.run() } }
        if output.format == .csv { print(SnapshotCSVRenderer.header, terminator: "") }
        for _ in 0..<count {
            let snapshot = try await loop.next(after: interval.nanoseconds)
            let families = exportsMetrics ? metrics.add(snapshot) : []
            otlp?.recorder.record(families)
            switch output.format {
            case .text: print(SnapshotTextRenderer(style: output.style).render(snapshot))
            case .json: print(try SnapshotJSONRenderer().render(snapshot), terminator: "")
            case .csv: print(SnapshotCSVRenderer().render(snapshot), terminator: "")
            case .influx: print(InfluxLineProtocol().encode(families, timestampNs: snapshot.endUnixNs).body, terminator: "")
            }
            fflush(nil)  // all streams: naming `stdout` is shared mutable state to Swift 6
            if let writer {
                let encoded = InfluxLineProtocol().encode(families, timestampNs: snapshot.endUnixNs)
                do {
                    try await writer.write(encoded.body)
                } catch {
                    // A failed push loses this interval's points, not the run: say so and go on.
                    StandardError.write("hvtax snapshot: \(error)\n")
                }
            }
        }
        if let group, let exporting {
            await group.triggerGracefulShutdown()
            if case .failure(let error) = await exporting.result { StandardError.write("hvtax snapshot: OTLP export: \(error)\n") }
        }
    }
}

/// The sampler and analyzer of `snapshot` and `top`: takes a sample, waits until the interval's
/// deadline (measured from the previous sample, so reading time does not stretch intervals), and
/// returns the snapshot of the interval just ended.
final class LiveLoop {
    let sampler: LiveSampler
    var analyzer: SnapshotAnalyzer
    var filter: [String]
    let advisor: Advisor
    let throttle: ThrottleMonitor
    /// Each interval's accounting validation feeds the advice on untrusted sources.
    let validator: AccountingValidator
    private var previousSample: HostSample?
    private var lastSampleNs: UInt64?

    init(root: String, thresholds: Thresholds, filter: [String], exitRates: ExitRateChoice = .auto) throws {
        let fs = HostFileSystem(root: root)
        guard fs.isDirectory("/proc") else {
            throw ValidationError("no /proc under \(root): not a host tree")
        }
        sampler = LiveSampler(fs: fs, exitRates: exitRates)
        analyzer = SnapshotAnalyzer(
            thresholds: thresholds, ticksPerSecond: sampler.ticksPerSecond, root: fs.root,
            exitRateSource: sampler.exitRateSource, backend: sampler.backend)
        self.filter = filter
        advisor = try Advisor.standard()
        throttle = ThrottleMonitor(fs: fs)
        validator = AccountingValidator(ticksPerSecond: sampler.ticksPerSecond, backend: sampler.backend)
    }

    /// Blocks for one interval (the first call also takes the starting sample).
    func next(after intervalNs: UInt64, wait: (UInt64) -> Bool = LiveLoop.sleep) throws -> HostSnapshot {
        while true {
            if let remaining = untilDue(intervalNs), !wait(remaining) { throw CancellationError() }
            if let snapshot = try step() { return snapshot }
        }
    }

    /// The same, waiting with Task.sleep: an async command (snapshot with its OTLP exporter beside
    /// it) must not hold one of the few cooperative threads in nanosleep for a whole interval.
    func next(after intervalNs: UInt64) async throws -> HostSnapshot {
        while true {
            if let remaining = untilDue(intervalNs) { try await Task.sleep(nanoseconds: remaining) }
            if let snapshot = try step() { return snapshot }
        }
    }

    /// How long until the next sample is due; nil when it is due now (or none was taken yet).
    private func untilDue(_ intervalNs: UInt64) -> UInt64? {
        guard let last = lastSampleNs else { return nil }
        let now = monotonicNs()
        return now < last + intervalNs ? last + intervalNs - now : nil
    }

    /// Takes a sample; returns the snapshot of the interval it ends (nil after the first sample).
    private func step() throws -> HostSnapshot? {
        let sample = try sampler.sample()
        // Read at each sample, so the throttling covers the same interval as the snapshot.
        let throttling = throttle.sample()
        let validation = previousSample.map { validator.validate(from: $0, to: sample, vms: sampler.vms) }
        previousSample = sample
        lastSampleNs = sample.monotonicNs
        guard var snapshot = analyzer.add(sample, vms: sampler.vms, affinity: sampler.affinity) else { return nil }
        let selection = VMSelection(filter)
        snapshot.findings += selection.unmatched(among: snapshot.vms.map { (name: $0.name, pid: $0.pid) }, place: "on this host")
            .map { SnapshotFinding(kind: .filterMatchesNothing, vm: nil, detail: $0) }
        snapshot.vms = snapshot.vms.filter { selection.selects(name: $0.name, pid: $0.pid) }
        snapshot.throttling = throttling
        snapshot.advice = advisor.advise(snapshot, validation: validation)
        return snapshot
    }

    /// Sleeps `ns`; true when the full time passed (a signal may cut it short).
    static func sleep(_ ns: UInt64) -> Bool {
        var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 {
            guard errno == EINTR else { return true }
            request = remaining
        }
        return true
    }

    func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

struct CancellationError: Error {}
