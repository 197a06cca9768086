import ArgumentParser
import HVTaxHost
import HVTaxServe
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `hvtax serve`: the Prometheus exporter with history, thresholds and actions.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the live view over HTTP: /metrics for Prometheus (text or OpenMetrics), /api/v1 JSON, / status page; keep history; act on thresholds.",
        discussion: """
            Listens on 127.0.0.1:\(ServeConfiguration.defaultPort) unless the config file says otherwise. The config file \
            (YAML, see docs/serve.md) sets TLS and basic auth the way Prometheus exporters' web-config.yml does, the \
            history database, thresholds and actions. Options given here override it. SIGINT or SIGTERM stop it cleanly.
            """)

    @Option(help: ArgumentHelp("YAML configuration file (docs/serve.md).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Override listen_address (HOST:PORT; port 0 picks a free one).", valueName: "host:port"))
    var listen: String?

    @Option(help: "Override root: read /proc and /sys under this directory (a fixture tree).")
    var root: String?

    @Option(name: .customLong("exit-rates"), help: ArgumentHelp(
        "Override exit_rates: auto (KVM debugfs, else kvm tracepoint counters), debugfs, tracepoints, or off.", valueName: "source"))
    var exitRates: ExitRateChoice?

    @Option(help: ArgumentHelp("Override sample_interval (500ms, 5s, ...).", valueName: "duration"))
    var interval: String?

    @Option(help: ArgumentHelp("Override history.path (the SQLite file).", valueName: "file"))
    var history: String?

    @Option(help: ArgumentHelp("Override log_level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: String?

    @Flag(help: "Turn the tracing collector on (tracing.enabled): kvm and sched tracepoints in hvtax's own tracefs instance give hvtax_exit_duration_seconds. Needs root.")
    var trace = false

    @Option(help: ArgumentHelp("Override tracing.events: minimal (the default: the time split), default (adds kvm_pio, kvm_mmio, kvm_fast_mmio for hvtax_guest_accesses_total, and sched/irq events), all-kvm, or system:event,... as hvtax record --events.",
                               valueName: "preset|list"))
    var traceEvents: String?

    @OptionGroup var influx: InfluxOptions

    @OptionGroup var otlpOptions: OTLPOptions

    func run() async throws {
        var configuration: ServeConfiguration
        do {
            configuration = try config.map { try ServeConfiguration.load(path: $0) } ?? ServeConfiguration()
        } catch {
            throw CommandFailure("\(error)")
        }
        if let listen { configuration.listenAddress = listen }
        if let root { configuration.root = root }
        if let exitRates { configuration.exitRates = exitRates }
        if let interval {
            guard let parsed = ConfigDuration(interval) else { throw ValidationError("--interval: a duration such as 500ms or 5s") }
            configuration.sampleInterval = parsed
        }
        if let history { configuration.history.path = history }
        if let logLevel { configuration.logLevel = logLevel }
        if trace { configuration.tracing.enabled = true }
        if let traceEvents { configuration.tracing.events = traceEvents }
        do {
            try configuration.validate(file: config.map { "\($0) with command-line overrides" } ?? "command-line options")
        } catch {
            throw ValidationError("\(error)")
        }
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "hvtax.serve")
        logger.logLevel = level
        if geteuid() != 0 {
            logger.notice("running as uid \(geteuid()): every collector works unprivileged except exit counts (KVM debugfs and kvm tracepoint counters need root); /api/v1/collectors says which delivered")
        }
        var application = ServeApplication(configuration: configuration, logger: logger)
        if let writer = try influx.writer() {
            application.pushes.append(.influx(writer))
            logger.notice("pushing every interval to InfluxDB at \(writer.target.displayURL)")
        }
        // swift-otel exports on its own timer, set to the sampling interval.
        if let otlp = try otlpOptions.exporter(intervalNs: configuration.sampleInterval.nanoseconds) {
            application.pushes.append(IntervalPush(name: "otlp") { view in otlp.recorder.record(view.families) })
            application.companions.append(otlp.service)
            logger.notice("exporting every interval as OTLP metrics to \(otlpOptions.otlpEndpoint ?? "")")
        }
        try await application.run()
    }
}
