/// Puts a guest trace's timestamps on its host's clock with the guest file's `TIME_SHIFT` option,
/// the way trace-cmd does (libtracecmd, `timestamp_host_sync`), so that hvtax and `trace-cmd report`
/// give a guest event the same host time:
///
/// * Each guest CPU has its own samples (time, offset, scaling, fraction bits), sorted by time;
///   samples with an equal time are kept once (the first).
/// * One sample: `host = guest + offset` (no scaling, as trace-cmd).
/// * Otherwise the pair of samples around the time is used (the first two before the first sample,
///   the last two after the last): `host = (guest * scaling) >> fraction + correction`, scaling and
///   fraction from the pair's first sample; the correction is the first sample's offset, or, when
///   the flags ask for interpolation (bit 0), the offset interpolated linearly between the pair,
///   rounded as trace-cmd rounds it.
/// * A guest CPU without samples keeps its own times (trace-cmd's behaviour); the reader notes it.
///
/// trace-cmd multiplies in 64 bits; hvtax multiplies in 128, so the two agree whenever trace-cmd's
/// product does not overflow (a guest time times the scaling below 2^64).
final class GuestClock {
    struct Pair {
        var time: Int64
        var offset: Int64
        var scaling: UInt64
        var fraction: UInt64
    }

    let interpolate: Bool
    private let cpus: [[Pair]]
    /// Per CPU, the index of the pair last used: times only move forward within a CPU, so the right
    /// pair is almost always this one or the next.
    private var hints: [Int]

    init(_ shift: TraceDatFile.TimeShift) {
        interpolate = shift.flags & 1 != 0
        cpus = shift.cpus.map { samples in
            var sorted: [Pair] = []
            // A stable sort keeps the first of equal times first, as trace-cmd's filter does.
            for sample in samples.enumerated().sorted(by: { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }).map(\.element)
            where sorted.last?.time != sample.time {
                sorted.append(Pair(time: sample.time, offset: sample.offset, scaling: UInt64(sample.scaling),
                                   fraction: UInt64(sample.fraction)))
            }
            return sorted
        }
        hints = Array(repeating: 0, count: shift.cpus.count)
    }

    /// How many guest CPUs the option covers.
    var cpuCount: Int { cpus.count }

    /// The host time of guest time `raw` on guest CPU `cpu`; nil when that CPU has no samples.
    @inline(__always)
    func hostTime(_ raw: UInt64, cpu: Int) -> UInt64? {
        guard cpu >= 0, cpu < cpus.count else { return nil }
        let samples = cpus[cpu]
        if samples.count == 1 { return Self.add(raw, Int128(samples[0].offset)) }
        let index = pairIndex(raw, cpu: cpu, samples: samples)
        let low = samples[index], high = samples[index + 1]
        var correction = Int128(low.offset)
        if interpolate {
            let delta = Int128(high.time) - Int128(low.time)
            let numerator = (Int128(Int64(bitPattern: raw)) - Int128(low.time)) * (Int128(high.offset) - Int128(low.offset))
            // C's division truncates toward zero; Swift's does too.
            correction = Int128(low.offset) + (numerator + delta / 2) / delta
        }
        let scaled = (UInt128(raw) * UInt128(low.scaling)) >> low.fraction
        return Self.add(UInt64(truncatingIfNeeded: scaled), correction)
    }

    /// The index `k` of the pair (k, k+1): the last sample at or before `raw`, at most count - 2.
    @inline(__always)
    private func pairIndex(_ raw: UInt64, cpu: Int, samples: [Pair]) -> Int {
        let last = samples.count - 2
        var k = min(hints[cpu], last)
        let time = Int128(raw)
        if Int128(samples[k].time) <= time && (k == last || time < Int128(samples[k + 1].time)) { return k }
        if k < last && Int128(samples[k + 1].time) <= time && (k + 1 == last || time < Int128(samples[k + 2].time)) {
            hints[cpu] = k + 1
            return k + 1
        }
        // Binary search for the last sample at or before `raw`.
        var low = 0, high = samples.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if Int128(samples[mid].time) <= time { low = mid } else { high = mid - 1 }
        }
        k = min(low, last)
        hints[cpu] = k
        return k
    }

    @inline(__always)
    private static func add(_ time: UInt64, _ correction: Int128) -> UInt64 {
        let sum = Int128(time) + correction
        return sum < 0 ? 0 : sum > Int128(UInt64.max) ? .max : UInt64(sum)
    }
}
