import Foundation

/// Two-sided tests on the aggregates a report keeps. Reports hold latencies as power-of-two bucket
/// counts, not samples, so the latency test is a Mann-Whitney U over those bins: every latency in a
/// bin is a tie with every other in it, which the tie-corrected variance accounts for. It answers
/// "does B tend to be slower (or faster) than A", needs no assumption about the distribution's
/// shape (exit latencies are long-tailed and multi-modal), and is exact in the counts; its limit is
/// resolution: shifts well inside one factor-of-two bin are invisible to it.
public enum RankTests {
    public struct Result: Sendable, Equatable {
        /// U of B: pairs (a, b) with b > a, plus half the ties.
        public var u: Double
        public var z: Double
        public var pValue: Double
        /// u / (n1 n2): the probability that a B value exceeds an A value (ties count half).
        public var effect: Double
    }

    /// Mann-Whitney U over binned samples `a` and `b` (bin `i` of both is the same value range,
    /// bins in increasing order), with tie correction and a continuity correction, normal
    /// approximation (good from about 10 values per side). Nil when either side is empty.
    public static func mannWhitney(binsA a: [UInt64], binsB b: [UInt64]) -> Result? {
        let count = max(a.count, b.count)
        let n1 = Double(a.reduce(0, +)), n2 = Double(b.reduce(0, +))
        guard n1 > 0, n2 > 0 else { return nil }
        var u = 0.0, below = 0.0, ties = 0.0
        for index in 0..<count {
            let x = index < a.count ? Double(a[index]) : 0
            let y = index < b.count ? Double(b[index]) : 0
            u += y * (below + 0.5 * x)
            below += x
            let t = x + y
            ties += t * t * t - t
        }
        let n = n1 + n2
        let mean = n1 * n2 / 2
        let variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
        let effect = u / (n1 * n2)
        guard variance > 0 else { return Result(u: u, z: 0, pValue: 1, effect: effect) }
        let shifted = u - mean
        let corrected = shifted > 0 ? max(0, shifted - 0.5) : min(0, shifted + 0.5)
        let z = corrected / variance.squareRoot()
        return Result(u: u, z: z, pValue: twoSidedP(z), effect: effect)
    }

    /// Two Poisson counts over their exposures (seconds): conditional on the total, B's count is
    /// binomial with p = tB / (tA + tB) if the rates are equal; normal approximation with a
    /// continuity correction. Real exits are burstier than Poisson, so this understates p for
    /// rates; it is a screen, not a proof.
    public static func poissonRates(countA: UInt64, exposureA: Double, countB: UInt64, exposureB: Double) -> (z: Double, pValue: Double)? {
        let total = Double(countA + countB)
        guard total > 0, exposureA > 0, exposureB > 0 else { return nil }
        let p = exposureB / (exposureA + exposureB)
        let expected = total * p
        let sd = (total * p * (1 - p)).squareRoot()
        guard sd > 0 else { return nil }
        let shifted = Double(countB) - expected
        let corrected = shifted > 0 ? max(0, shifted - 0.5) : min(0, shifted + 0.5)
        let z = corrected / sd
        return (z, twoSidedP(z))
    }

    static func twoSidedP(_ z: Double) -> Double { min(1, erfc(abs(z) / 2.0.squareRoot())) }
}
