/// A statistic's scalar value in its unit, with the descriptor's base and exponent applied.
public enum KVMStatQuantity: Sendable, Equatable {
    case count(UInt64)
    case bytes(UInt64)
    case duration(Duration)
    case cycles(UInt64)
    case boolean(Bool)
    /// A unit this reader does not know, or a scale that is not a whole number (e.g. cycles x 10^-3).
    case scaled(Double, unit: KVMStatUnit)

    /// Applies `base^exponent` to `raw` and wraps it in `unit`'s case.
    init(raw: UInt64, unit: KVMStatUnit, base: KVMStatBase, exponent: Int16) {
        switch unit {
        case .boolean:
            self = .boolean(raw != 0)
        case .seconds where base == .powerOf10:
            // Duration is exact to 10^-18 s, which covers every exponent KVM uses (-9 today).
            let attosecondsExponent = Int(exponent) + 18
            if attosecondsExponent >= 0, attosecondsExponent <= 36 {
                var scale: Int128 = 1
                for _ in 0..<attosecondsExponent { scale *= 10 }
                let attoseconds = Int128(raw) * scale
                self = .duration(Duration(secondsComponent: Int64(attoseconds / 1_000_000_000_000_000_000),
                                          attosecondsComponent: Int64(attoseconds % 1_000_000_000_000_000_000)))
            } else {
                self = .scaled(Double(raw) * KVMStatQuantity.factor(base: base, exponent: exponent), unit: unit)
            }
        case .none, .bytes, .cycles:
            let product = KVMStatQuantity.wholeFactor(base: base, exponent: exponent)
                .map { raw.multipliedReportingOverflow(by: $0) }
            if let product, !product.overflow {
                switch unit {
                case .bytes: self = .bytes(product.partialValue)
                case .cycles: self = .cycles(product.partialValue)
                default: self = .count(product.partialValue)
                }
            } else {
                self = .scaled(Double(raw) * KVMStatQuantity.factor(base: base, exponent: exponent), unit: unit)
            }
        default:
            self = .scaled(Double(raw) * KVMStatQuantity.factor(base: base, exponent: exponent), unit: unit)
        }
    }

    static func factor(base: KVMStatBase, exponent: Int16) -> Double {
        switch base {
        case .powerOf2: Double.pow2(Int(exponent))
        default: Double.pow10(Int(exponent))
        }
    }

    static func wholeFactor(base: KVMStatBase, exponent: Int16) -> UInt64? {
        guard exponent >= 0 else { return nil }
        let radix: UInt64
        switch base {
        case .powerOf10: radix = 10
        case .powerOf2: radix = 2
        case .unknown: return nil
        }
        var factor: UInt64 = 1
        for _ in 0..<exponent {
            let (next, overflow) = factor.multipliedReportingOverflow(by: radix)
            if overflow { return nil }
            factor = next
        }
        return factor
    }
}

/// A histogram statistic: bucket counts and the value range each bucket covers.
public struct KVMStatHistogram: Sendable, Equatable {
    public enum Buckets: Sendable, Equatable {
        /// Bucket i covers [width x i, width x (i+1)) raw units.
        case linear(widthRaw: UInt32)
        /// Bucket 0 covers [0, 1), bucket i covers [2^(i-1), 2^i) raw units.
        case logarithmic
    }

    public let buckets: Buckets
    public let unit: KVMStatUnit
    public let base: KVMStatBase
    public let exponent: Int16
    public let counts: [UInt64]

    /// The half-open range of bucket `index`, in the unit's base (seconds for time histograms).
    public func range(ofBucket index: Int) -> (lower: Double, upper: Double) {
        let scale = KVMStatQuantity.factor(base: base, exponent: exponent)
        switch buckets {
        case .linear(let width):
            return (Double(width) * Double(index) * scale, Double(width) * Double(index + 1) * scale)
        case .logarithmic:
            if index == 0 { return (0, scale) }
            return (Double.pow2(index - 1) * scale, Double.pow2(index) * scale)
        }
    }

    public var total: UInt64 { counts.reduce(0, +) }
}

/// One statistic's value as a typed Swift value.
public enum KVMStatValue: Sendable, Equatable {
    case cumulative(KVMStatQuantity)
    case instant(KVMStatQuantity)
    case peak(KVMStatQuantity)
    case histogram(KVMStatHistogram)
    /// A type this reader does not know: the raw u64 values.
    case raw([UInt64])

    init(descriptor: KVMStatDescriptor, raw: ArraySlice<UInt64>) {
        let quantity = { KVMStatQuantity(raw: raw.first ?? 0, unit: descriptor.unit, base: descriptor.base,
                                         exponent: descriptor.exponent) }
        switch descriptor.kind {
        case .cumulative: self = .cumulative(quantity())
        case .instant: self = .instant(quantity())
        case .peak: self = .peak(quantity())
        case .linearHistogram:
            self = .histogram(KVMStatHistogram(buckets: .linear(widthRaw: descriptor.bucketSize), unit: descriptor.unit,
                                               base: descriptor.base, exponent: descriptor.exponent, counts: Array(raw)))
        case .logHistogram:
            self = .histogram(KVMStatHistogram(buckets: .logarithmic, unit: descriptor.unit, base: descriptor.base,
                                               exponent: descriptor.exponent, counts: Array(raw)))
        case .unknown:
            self = .raw(Array(raw))
        }
    }
}

extension Double {
    static func pow2(_ exponent: Int) -> Double {
        Double(sign: .plus, exponent: exponent, significand: 1)
    }

    static func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(exponent) { result *= 10 }
        return exponent >= 0 ? result : 1 / result
    }
}
