import Foundation

/// One question to the history, as `hvtax history` and `/api/v1/history` both ask it: which VM, how
/// far back, CSV or JSON. One parser so the command and the endpoint refuse the same things: a
/// `since` that is not a duration used to fall back to an hour without a word, and one longer than
/// the time since 1970 wrapped the cutoff round to the far future and answered nothing.
public struct HistoryQuery: Sendable, Equatable {
    public enum Format: String, CaseIterable, Sendable { case csv, json }

    /// nil: every VM and the host; "": the host alone.
    public var vm: String?
    public var since: ConfigDuration
    public var format: Format

    public static let sinceExpectation = "a duration such as 30m, 2h or 7d"

    public init(vm: String? = nil, since: ConfigDuration = ConfigDuration("1h")!, format: Format = .csv) {
        self.vm = vm
        self.since = since
        self.format = format
    }

    /// Parses the text forms (query parameters, options); nil parameters take the defaults.
    public init(vm: String?, since: String?, format: String?) throws(HistoryQueryError) {
        self.init(vm: vm)
        if let since {
            guard let parsed = ConfigDuration(since), parsed.nanoseconds > 0 else {
                throw HistoryQueryError(parameter: "since", message: "expected \(Self.sinceExpectation), found \"\(since)\"")
            }
            self.since = parsed
        }
        if let format {
            guard let parsed = Format(rawValue: format) else {
                throw HistoryQueryError(parameter: "format", message: "expected csv or json, found \"\(format)\"")
            }
            self.format = parsed
        }
    }

    /// The oldest time asked for; a window reaching before 1970 starts at 1970.
    public func cutoff(nowUnixNs: UInt64) -> UInt64 {
        nowUnixNs > since.nanoseconds ? nowUnixNs - since.nanoseconds : 0
    }

    public func rows(from store: HistoryStore, nowUnixNs: UInt64 = UInt64(Date().timeIntervalSince1970 * 1e9)) throws -> [HistoryStore.Row] {
        try store.rows(vm: vm, sinceUnixNs: cutoff(nowUnixNs: nowUnixNs))
    }

    public func render(_ rows: [HistoryStore.Row]) throws -> String {
        switch format {
        case .csv: HistoryRenderer.csv(rows)
        case .json: try HistoryRenderer.json(rows)
        }
    }

    public var contentType: String {
        switch format {
        case .csv: "text/csv; charset=utf-8"
        case .json: "application/json"
        }
    }
}

public struct HistoryQueryError: Error, Equatable, CustomStringConvertible {
    public var parameter: String
    public var message: String
    public var description: String { "\(parameter): \(message)" }
}
