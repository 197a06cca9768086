import HVTaxModel
import Testing

/// The one duration parser behind `--interval`, `--duration`, `--since`, `--period` and the serve
/// config: what it takes, and what it refuses instead of trapping in the conversion to UInt64.
@Suite("duration text")
struct DurationTextTests {
    @Test(
        "durations in every unit",
        arguments: [
            ("500ms", UInt64(500_000_000)), ("15s", 15_000_000_000), ("10m", 600_000_000_000), ("2h", 7_200_000_000_000),
            ("7d", 604_800_000_000_000), ("250us", 250_000), ("250µs", 250_000), ("100ns", 100), ("2", 2_000_000_000),
            ("0.3s", 300_000_000), ("1.5", 1_500_000_000), (" 5s\t", 5_000_000_000), ("0s", 0),
            ("584y", nil), ("", nil), ("s", nil), ("abc", nil), ("-1s", nil), ("5x", nil), ("inf", nil), ("infs", nil),
            ("nan", nil), ("1e30s", nil), ("1e11d", nil), ("18446744073709551616ns", nil),
        ] as [(String, UInt64?)])
    func parse(_ text: String, _ nanoseconds: UInt64?) {
        #expect(DurationText.nanoseconds(text) == nanoseconds)
    }

    @Test("seconds from a config file's number")
    func seconds() {
        #expect(DurationText.nanoseconds(seconds: 2.5) == 2_500_000_000)
        #expect(DurationText.nanoseconds(seconds: -1) == nil)
        #expect(DurationText.nanoseconds(seconds: 1e20) == nil, "past UInt64 nanoseconds")
    }

    @Test("words for a number of nanoseconds, read back to the same number",
          arguments: [(UInt64(0), "0s"), (5_000_000_000, "5s"), (1_500_000_000, "1500ms"), (180_000_000_000, "3m"),
                      (7_200_000_000_000, "2h"), (86_400_000_000_000, "1d"), (250_000, "250us"), (1, "1ns"),
                      (123_456_789, "123456789ns")] as [(UInt64, String)])
    func text(_ nanoseconds: UInt64, _ words: String) {
        #expect(DurationText.text(nanoseconds: nanoseconds) == words)
        #expect(DurationText.nanoseconds(words) == nanoseconds)
    }
}
