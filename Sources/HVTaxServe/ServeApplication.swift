import Foundation
import HVTaxExporters
import HVTaxMetrics
import HVTaxModel
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import UnixSignals

/// `hvtax serve`: the sampler service and the HTTP application in one service group, with
/// graceful shutdown on SIGINT and SIGTERM (the sampler finishes the interval it is writing, the
/// server stops accepting and drains).
public struct ServeApplication {
    public let configuration: ServeConfiguration
    public let logger: Logger
    let store = ViewStore()
    /// Where else every interval goes (InfluxDB, OTLP: docs/export.md), each in its own service.
    public var pushes: [IntervalPush] = []
    /// Services the pushes need running beside them (swift-otel's exporter for OTLP).
    public var companions: [any Service] = []

    public init(configuration: ServeConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until SIGINT/SIGTERM. `onListening` receives the bound address (the port when 0 was asked).
    public func run(onListening: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        guard let address = ListenAddress(configuration.listenAddress) else {
            throw ServeError("listen_address \(configuration.listenAddress): expected HOST:PORT")
        }
        let history = try configuration.history.path.isEmpty ? nil : HistoryStore(configuration: configuration.history)
        if let history { logger.info("history in \(history.path): raw \(configuration.history.rawRetention), minutes \(configuration.history.minuteRetention)") }
        let pipeline = try SamplingPipeline(configuration: configuration, history: history, logger: logger)
        // After the service group ends (SIGINT, SIGTERM, or an error) the sampler no longer runs:
        // the tracefs instance goes with it.
        defer { pipeline.tracing?.stop() }
        let actions = ActionRunner(configuration: configuration.actions, logger: logger)
        let sampler = SamplerService(
            pipeline: pipeline, store: store, actions: actions, interval: configuration.sampleInterval, logger: logger)
        let router = Routes.router(store: store, history: history, configuration: configuration)
        let server: HTTPServerBuilder
        let http1 = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .seconds(30)))
        if let tls = configuration.web.tlsServerConfig {
            server = try .tls(http1, tlsConfiguration: Self.tlsConfiguration(tls))
        } else {
            server = http1
        }
        let scheme = configuration.web.tlsServerConfig == nil ? "http" : "https"
        let logger = self.logger
        let listenAddress = configuration.listenAddress
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "hvtax"),
            services: [sampler] + pushes.map { IntervalPushService(store: store, destination: $0, interval: configuration.sampleInterval, logger: logger) }
                + companions,
            onServerRunning: { channel in
                let bound = channel.localAddress.map { "\($0.ipAddress ?? address.host):\($0.port ?? address.port)" } ?? listenAddress
                logger.notice("listening on \(scheme)://\(bound)")
                onListening(bound)
            },
            logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    static func tlsConfiguration(_ tls: WebConfiguration.TLSServerConfig) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(tls.certFile)
        } catch {
            throw ServeError("tls_server_config.cert_file \(tls.certFile): not a readable PEM certificate (\(error))")
        }
        do {
            key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)
        } catch {
            throw ServeError("tls_server_config.key_file \(tls.keyFile): not a readable PEM private key (\(error))")
        }
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        switch tls.minVersion {
        case nil, "TLS12": config.minimumTLSVersion = .tlsv12
        case "TLS13": config.minimumTLSVersion = .tlsv13
        case let other?: throw ServeError("tls_server_config.min_version: TLS12 or TLS13, found \(other)")
        }
        if let ca = tls.clientCAFile {
            config.trustRoots = .file(ca)
            config.certificateVerification = .noHostnameVerification
        }
        return config
    }
}

/// Samples every interval on a thread-pool thread (file reads block), publishes the view, hands
/// threshold events to the action runner without waiting for them.
struct SamplerService: Service {
    let pipeline: SamplingPipeline
    let store: ViewStore
    let actions: ActionRunner
    let interval: ConfigDuration
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                let clock = ContinuousClock()
                // The first interval is short so that /metrics has figures soon after start.
                var deadline = clock.now
                var first = true
                while !Task.isCancelled {
                    let outcomes = await actions.outcomes
                    let pipeline = self.pipeline
                    let result = try await NIOThreadPool.singleton.runIfActive { try pipeline.step(actionOutcomes: outcomes) }
                    if let (view, events) = result {
                        store.publish(view)
                        store.record(events)
                        for event in events { Task { await actions.handle(event) } }
                    }
                    deadline = deadline.advanced(by: first ? min(interval.duration, .seconds(1)) : interval.duration)
                    first = false
                    if deadline < clock.now { deadline = clock.now }
                    try await Task.sleep(until: deadline, clock: clock)
                }
            }
        } catch is CancellationError {
            logger.info("sampler stopped")
        }
    }
}
