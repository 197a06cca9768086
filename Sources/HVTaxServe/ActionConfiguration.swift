import HVTaxModel

/// What to do when a watched figure reaches `on_level`: run a command, POST a webhook, or both.
public struct ActionConfiguration: Codable, Sendable, Equatable {
    /// argv of a command (no shell): the event JSON on its stdin, the main fields in HVTAX_* variables.
    public var command: [String]?
    public var webhook: Webhook?
    /// Act when a figure rises to this level (warning or critical).
    public var onLevel: Level = .critical
    /// Log what would be done, do nothing.
    public var dryRun: Bool = false
    /// At most one action per VM (or host) and figure within this time.
    public var minInterval: ConfigDuration = ConfigDuration("10m")!
    /// A command still running after this is terminated (SIGTERM, then SIGKILL 5 s later).
    public var timeout: ConfigDuration = ConfigDuration("60s")!

    public struct Webhook: Codable, Sendable, Equatable {
        public var url: String
        public var headers: [String: String] = [:]

        public init(url: String, headers: [String: String] = [:]) {
            self.url = url
            self.headers = headers
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = try c.decode(String.self, forKey: .url)
            headers = try c.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
        }
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case command, webhook, onLevel = "on_level", dryRun = "dry_run", minInterval = "min_interval", timeout
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        command = try c.decodeIfPresent([String].self, forKey: .command)
        webhook = try c.decodeIfPresent(Webhook.self, forKey: .webhook)
        onLevel = try c.decodeIfPresent(Level.self, forKey: .onLevel) ?? onLevel
        dryRun = try c.decodeIfPresent(Bool.self, forKey: .dryRun) ?? dryRun
        minInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .minInterval) ?? minInterval
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
    }
}
