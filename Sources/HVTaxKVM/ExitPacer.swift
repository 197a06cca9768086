/// Turns an exit rate into whole exits per period, carrying the fraction so that, e.g., 15 exits/s
/// over 100 ms periods gives 1, 2, 1, 2, ... and exactly 15 per second.
struct ExitPacer: Sendable {
    let perPeriod: Double
    private var carry = 0.0

    init(ratePerSecond: Double, periodNs: UInt64) {
        perPeriod = ratePerSecond * Double(periodNs) / 1e9
    }

    mutating func nextPeriod() -> UInt64 {
        let exact = perPeriod + carry
        let whole = exact.rounded(.down)
        carry = exact - whole
        return UInt64(whole)
    }
}
