import Foundation
import HVTaxHost
import HVTaxModel
import HVTaxTracefs
import Yams

/// `hvtax serve --config FILE`: one YAML file. The `tls_server_config` and `basic_auth_users` keys
/// are those of Prometheus' exporter-toolkit web configuration, so an operator's existing
/// web-config.yml works here unchanged. Every key is optional; docs/serve.md lists them.
public struct ServeConfiguration: Codable, Sendable, Equatable {
    /// `host:port`. Loopback by default: opening it to the network is a decision for the operator.
    public var listenAddress: String = "127.0.0.1:\(ServeConfiguration.defaultPort)"
    /// Read /proc and /sys under this root (a fixture tree in tests).
    public var root: String = "/"
    public var sampleInterval: ConfigDuration = .seconds(5)
    public var web: WebConfiguration = WebConfiguration()
    public var history: HistoryConfiguration = HistoryConfiguration()
    public var thresholds: ThresholdConfiguration = ThresholdConfiguration()
    public var actions: ActionConfiguration = ActionConfiguration()
    public var tracing: TracingConfiguration = TracingConfiguration()
    /// Where exit rates come from: auto, debugfs, tracepoints or off (`hvtax snapshot --exit-rates`).
    public var exitRates: ExitRateChoice = .auto
    /// swift-log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel: String = "info"

    /// 9100 is node_exporter's and 9177 the libvirt exporters' (docs/sources.md, "Prometheus names
    /// and ports"); 9847 is in the exporters' 9xxx range, away from both and from Prometheus' own
    /// 9090-9094.
    public static let defaultPort = 9847

    public init() {}

    enum CodingKeys: String, CodingKey {
        case listenAddress = "listen_address", root, sampleInterval = "sample_interval", web, history, thresholds, actions, tracing
        case logLevel = "log_level", exitRates = "exit_rates"
        // exporter-toolkit keys at the top level, as in a web-config.yml.
        case tlsServerConfig = "tls_server_config", basicAuthUsers = "basic_auth_users"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        listenAddress = try c.decodeIfPresent(String.self, forKey: .listenAddress) ?? listenAddress
        root = try c.decodeIfPresent(String.self, forKey: .root) ?? root
        sampleInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .sampleInterval) ?? sampleInterval
        web = try c.decodeIfPresent(WebConfiguration.self, forKey: .web) ?? web
        if let tls = try c.decodeIfPresent(WebConfiguration.TLSServerConfig.self, forKey: .tlsServerConfig) { web.tlsServerConfig = tls }
        if let users = try c.decodeIfPresent([String: String].self, forKey: .basicAuthUsers) { web.basicAuthUsers = users }
        history = try c.decodeIfPresent(HistoryConfiguration.self, forKey: .history) ?? history
        thresholds = try c.decodeIfPresent(ThresholdConfiguration.self, forKey: .thresholds) ?? thresholds
        actions = try c.decodeIfPresent(ActionConfiguration.self, forKey: .actions) ?? actions
        tracing = try c.decodeIfPresent(TracingConfiguration.self, forKey: .tracing) ?? tracing
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? logLevel
        exitRates = try c.decodeIfPresent(ExitRateChoice.self, forKey: .exitRates) ?? exitRates
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(listenAddress, forKey: .listenAddress)
        try c.encode(root, forKey: .root)
        try c.encode(sampleInterval, forKey: .sampleInterval)
        try c.encode(web, forKey: .web)
        try c.encode(history, forKey: .history)
        try c.encode(thresholds, forKey: .thresholds)
        try c.encode(actions, forKey: .actions)
        try c.encode(tracing, forKey: .tracing)
        try c.encode(logLevel, forKey: .logLevel)
        try c.encode(exitRates, forKey: .exitRates)
    }

    /// Parses the file; errors name the file and, from the YAML parser, the line and column.
    public static func load(path: String) throws(ConfigurationError) -> ServeConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError(file: path, message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> ServeConfiguration {
        let config: ServeConfiguration
        do {
            config = try YAMLDecoder().decode(ServeConfiguration.self, from: text.isEmpty ? "{}" : text)
        } catch let error as DecodingError {
            // A syntax error reaches here as "The given data was not valid YAML." with Yams' own
            // error, which knows the line and column, underneath.
            if case .dataCorrupted(let context) = error, let yaml = context.underlyingError as? YamlError,
               let syntax = Self.describe(yaml) {
                throw ConfigurationError(file: file, message: syntax)
            }
            throw ConfigurationError(file: file, message: DecodingProblem.describe(error))
        } catch let error as YamlError {
            throw ConfigurationError(file: file, message: Self.describe(error) ?? "\(error)")
        } catch {
            throw ConfigurationError(file: file, message: "\(error)")
        }
        try config.validate(file: file)
        return config
    }

    /// "line 3, column 10: did not find expected node content (while parsing a flow node from
    /// line 3, column 9)": the place first, as the other input errors give it.
    static func describe(_ error: YamlError) -> String? {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let from = context.map { " (\($0.text) from line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return "line \(mark.line), column \(mark.column): \(problem)\(from)"
        default:
            return nil
        }
    }

    /// Also for a configuration changed in code (the command's overrides on top of the file).
    public func validate(file: String) throws(ConfigurationError) {
        guard ListenAddress(listenAddress) != nil else {
            throw ConfigurationError(file: file, message: "listen_address: expected HOST:PORT (e.g. 127.0.0.1:\(Self.defaultPort)), found \"\(listenAddress)\"")
        }
        guard sampleInterval.nanoseconds >= 10_000_000 else {
            throw ConfigurationError(file: file, message: "sample_interval: at least 10ms, found \(sampleInterval)")
        }
        guard Logger_Level(logLevel) else {
            throw ConfigurationError(file: file, message: "log_level: one of trace, debug, info, notice, warning, error, critical; found \"\(logLevel)\"")
        }
        for (user, hash) in web.basicAuthUsers where !hash.hasPrefix("$2") {
            throw ConfigurationError(file: file, message: "basic_auth_users.\(user): expected a bcrypt hash ($2a$, $2b$ or $2y$), as htpasswd -B writes")
        }
        if let tls = web.tlsServerConfig, tls.certFile.isEmpty || tls.keyFile.isEmpty {
            throw ConfigurationError(file: file, message: "tls_server_config: cert_file and key_file are both required")
        }
        try thresholds.validate(file: file)
        if EventSelection.parse(tracing.events) == nil {
            throw ConfigurationError(file: file, message: "tracing.events: a preset (minimal, default, all-kvm) or a comma-separated system:event list, found \"\(tracing.events)\"")
        }
        guard tracing.bufferKB >= 64 else {
            throw ConfigurationError(file: file, message: "tracing.buffer_kb: at least 64 (KiB per CPU), found \(tracing.bufferKB)")
        }
        if actions.webhook != nil, URL(string: actions.webhook!.url)?.scheme == nil {
            throw ConfigurationError(file: file, message: "actions.webhook.url: expected an http:// or https:// URL, found \"\(actions.webhook!.url)\"")
        }
    }
}

private func Logger_Level(_ text: String) -> Bool {
    ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(text)
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public var file: String
    public var message: String

    public var description: String { "\(file): \(message)" }
}

/// `host:port` with an IPv4 address, a name or `[IPv6]`.
public struct ListenAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}

/// The exporter-toolkit part: TLS and basic auth.
public struct WebConfiguration: Codable, Sendable, Equatable {
    public var tlsServerConfig: TLSServerConfig?
    /// user -> bcrypt hash.
    public var basicAuthUsers: [String: String] = [:]

    public init(tlsServerConfig: TLSServerConfig? = nil, basicAuthUsers: [String: String] = [:]) {
        self.tlsServerConfig = tlsServerConfig
        self.basicAuthUsers = basicAuthUsers
    }

    public struct TLSServerConfig: Codable, Sendable, Equatable {
        public var certFile: String
        public var keyFile: String
        /// Client certificates signed by this CA are required when set (exporter-toolkit's
        /// client_ca_file with client_auth_type RequireAndVerifyClientCert).
        public var clientCAFile: String?
        /// TLS12 or TLS13 (exporter-toolkit's names).
        public var minVersion: String?

        public init(certFile: String, keyFile: String, clientCAFile: String? = nil, minVersion: String? = nil) {
            self.certFile = certFile
            self.keyFile = keyFile
            self.clientCAFile = clientCAFile
            self.minVersion = minVersion
        }

        enum CodingKeys: String, CodingKey {
            case certFile = "cert_file", keyFile = "key_file", clientCAFile = "client_ca_file", minVersion = "min_version"
        }
    }

    enum CodingKeys: String, CodingKey {
        case tlsServerConfig = "tls_server_config", basicAuthUsers = "basic_auth_users"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tlsServerConfig = try c.decodeIfPresent(TLSServerConfig.self, forKey: .tlsServerConfig)
        basicAuthUsers = try c.decodeIfPresent([String: String].self, forKey: .basicAuthUsers) ?? [:]
    }
}

public struct HistoryConfiguration: Codable, Sendable, Equatable {
    /// The SQLite file; empty: no history.
    public var path: String = ""
    /// Raw samples (one row per VM and interval) are kept this long...
    public var rawRetention: ConfigDuration = ConfigDuration("6h")!
    /// ...and minute averages this long.
    public var minuteRetention: ConfigDuration = ConfigDuration("14d")!

    public init(path: String = "", rawRetention: ConfigDuration = ConfigDuration("6h")!, minuteRetention: ConfigDuration = ConfigDuration("14d")!) {
        self.path = path
        self.rawRetention = rawRetention
        self.minuteRetention = minuteRetention
    }

    enum CodingKeys: String, CodingKey { case path, rawRetention = "raw_retention", minuteRetention = "minute_retention" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decodeIfPresent(String.self, forKey: .path) ?? path
        rawRetention = try c.decodeIfPresent(ConfigDuration.self, forKey: .rawRetention) ?? rawRetention
        minuteRetention = try c.decodeIfPresent(ConfigDuration.self, forKey: .minuteRetention) ?? minuteRetention
    }
}
