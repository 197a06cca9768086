import HVTaxModel

/// A duration written the way Prometheus configs write them: `500ms`, `15s`, `10m`, `2h`, `7d`
/// (a bare number is seconds).
public struct ConfigDuration: Codable, Sendable, Equatable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    public init?(_ text: String) {
        guard let nanoseconds = DurationText.nanoseconds(text) else { return nil }
        self.nanoseconds = nanoseconds
    }

    public static func seconds(_ s: Double) -> ConfigDuration { ConfigDuration(nanoseconds: UInt64(s * 1e9)) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let seconds = try? container.decode(Double.self) {
            guard let nanoseconds = DurationText.nanoseconds(seconds: seconds) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "expected a duration from 0 to 584 years, found \(seconds) seconds")
            }
            self.nanoseconds = nanoseconds
            return
        }
        let text = try container.decode(String.self)
        guard let parsed = ConfigDuration(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected a duration such as 500ms, 15s, 10m, 2h or 7d, found \"\(text)\"")
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public var duration: Duration { .nanoseconds(Int64(clamping: nanoseconds)) }

    public var description: String {
        for (suffix, scale) in [("d", 86_400_000_000_000), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000),
                                ("ms", 1_000_000)] as [(String, UInt64)] where nanoseconds >= scale && nanoseconds % scale == 0 {
            return "\(nanoseconds / scale)\(suffix)"
        }
        return "\(nanoseconds)ns"
    }
}
