import Foundation
import HVTaxExporters
import Logging

/// Runs the configured command and webhook for threshold events, off the sampler's path: each
/// action runs in its own task, at most one per VM/host and figure within `min_interval`, and a
/// dry run only logs. Every event goes to the log, acted on or not.
public actor ActionRunner {
    public let configuration: ActionConfiguration
    private let logger: Logger
    private var lastAction: [String: ContinuousClock.Instant] = [:]
    /// outcome -> count: ran, failed, dry-run, rate-limited (hvtax_actions_total).
    public private(set) var outcomes: [String: Int] = [:]

    public init(configuration: ActionConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        // The evidence goes to the command's stdin. A command that exits without reading it (most
        // scripts ignore stdin) closes the pipe, and writing to it then raises SIGPIPE, whose
        // default action would end the whole service. Ignored, the write fails with EPIPE instead.
        if configuration.command != nil && !configuration.dryRun { signal(SIGPIPE, SIG_IGN) }
    }

    /// Logs the event and, when it is a rise to `on_level` or above, acts (subject to the rate limit).
    /// Returns when the actions finished (callers that must not wait run it in a task).
    public func handle(_ event: ThresholdEvent) async {
        var metadata: Logger.Metadata = [
            "scope": "\(event.scope)", "figure": "\(event.figure.rawValue)", "from": "\(event.from.rawValue)",
            "to": "\(event.to.rawValue)", "value": "\(event.value)", "threshold": "\(event.threshold)",
        ]
        if let vm = event.vm { metadata["vm"] = "\(vm)" }
        logger.log(level: event.to == .critical ? .warning : .notice,
                   "\(event.key) \(event.rising ? "rose" : "fell") to \(event.to.rawValue)", metadata: metadata)
        guard event.rising, event.to >= configuration.onLevel, configuration.command != nil || configuration.webhook != nil else { return }
        let now = ContinuousClock.now
        if let last = lastAction[event.key], now - last < configuration.minInterval.duration {
            count("rate-limited")
            logger.notice("action for \(event.key) skipped: rate limit of one per \(configuration.minInterval)", metadata: metadata)
            return
        }
        lastAction[event.key] = now
        let json: Data
        do { json = try Self.encoder.encode(event) } catch {
            count("failed")
            logger.error("cannot encode event \(event.key): \(error)")
            return
        }
        if configuration.dryRun {
            count("dry-run")
            if let command = configuration.command { logger.notice("dry run: would run \(command.joined(separator: " "))", metadata: metadata) }
            if let webhook = configuration.webhook { logger.notice("dry run: would POST to \(webhook.url)", metadata: metadata) }
            logger.notice("dry run: evidence \(String(decoding: json, as: UTF8.self))")
            return
        }
        if let command = configuration.command { await run(command, event: event, json: json, metadata: metadata) }
        if let webhook = configuration.webhook { await post(webhook, json: json, metadata: metadata) }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    private func count(_ outcome: String) { outcomes[outcome, default: 0] += 1 }

    private func run(_ command: [String], event: ThresholdEvent, json: Data, metadata: Logger.Metadata) async {
        var environment = ProcessInfo.processInfo.environment
        environment["HVTAX_SCOPE"] = event.scope
        environment["HVTAX_VM"] = event.vm ?? ""
        environment["HVTAX_PID"] = event.pid.map(String.init) ?? ""
        environment["HVTAX_FIGURE"] = event.figure.rawValue
        environment["HVTAX_LEVEL"] = event.to.rawValue
        environment["HVTAX_VALUE"] = String(event.value)
        let finished = AsyncStream<Int32>.makeStream()
        // ETXTBSY: the script was written a moment ago and a process forked meanwhile (by this
        // service or anyone) still holds it open for writing until it execs; that passes within
        // milliseconds, so the launch is tried again a few times before it counts as failed.
        var attempt = 0
        let process: Process
        var stdin: Pipe
        while true {
            stdin = Pipe()
            let candidate = Process()
            candidate.executableURL = URL(fileURLWithPath: command[0])
            candidate.arguments = Array(command.dropFirst())
            candidate.environment = environment
            candidate.standardInput = stdin
            candidate.terminationHandler = { finished.continuation.yield($0.terminationStatus); finished.continuation.finish() }
            do {
                try candidate.run()
                process = candidate
                break
            } catch {
                attempt += 1
                if Self.isTextFileBusy(error) && attempt < Self.busyAttempts {
                    try? await Task.sleep(for: .milliseconds(20 * attempt))
                    continue
                }
                count("failed")
                logger.error("action command \(command[0]) did not start (after \(attempt) attempt\(attempt == 1 ? "" : "s")): \(error)",
                             metadata: metadata)
                return
            }
        }
        // The command may not read its stdin; a full pipe must not block us.
        try? stdin.fileHandleForWriting.write(contentsOf: json)
        try? stdin.fileHandleForWriting.close()
        let pid = process.processIdentifier
        let timeout = configuration.timeout.duration
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            kill(pid, SIGTERM)
            try await Task.sleep(for: .seconds(5))
            kill(pid, SIGKILL)
        }
        var status: Int32 = -1
        for await s in finished.stream { status = s }
        watchdog.cancel()
        if status == 0 {
            count("ran")
            logger.notice("action command \(command.joined(separator: " ")) exited 0 for \(event.key)", metadata: metadata)
        } else {
            count("failed")
            logger.error("action command \(command.joined(separator: " ")) exited \(status) for \(event.key)", metadata: metadata)
        }
    }

    /// Launches tried while the executable is busy (ETXTBSY), 20 ms more apart each time (~1 s in all).
    static let busyAttempts = 10

    /// Whether a launch failed with ETXTBSY, which Foundation wraps as the underlying error.
    static func isTextFileBusy(_ error: any Error) -> Bool {
        var current: NSError? = error as NSError
        while let e = current {
            if e.domain == NSPOSIXErrorDomain && e.code == Int(ETXTBSY) { return true }
            current = e.userInfo[NSUnderlyingErrorKey] as? NSError
        }
        return false
    }

    private func post(_ webhook: ActionConfiguration.Webhook, json: Data, metadata: Logger.Metadata) async {
        do {
            let answer = try await HTTPPost.send(Array(json), to: webhook.url,
                                                 headers: [("Content-Type", "application/json")] + webhook.headers.map { ($0.key, $0.value) },
                                                 timeoutSeconds: configuration.timeout.seconds)
            if answer.succeeded {
                count("ran")
                logger.notice("webhook \(webhook.url) answered \(answer.status)", metadata: metadata)
            } else {
                count("failed")
                logger.error("webhook \(webhook.url) answered \(answer.status)", metadata: metadata)
            }
        } catch {
            count("failed")
            logger.error("webhook \(webhook.url) failed: \(error)", metadata: metadata)
        }
    }
}
