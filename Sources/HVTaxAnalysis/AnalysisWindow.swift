/// The part of the trace the figures cover (`--since`/`--until`), in absolute trace time.
/// Every interval is clipped to it, so the time split stays exact inside the window.
struct AnalysisWindow {
    var start: UInt64 = 0
    var end: UInt64 = .max

    @inline(__always) func overlap(_ from: UInt64, _ to: UInt64) -> UInt64 {
        let a = max(from, start)
        let b = min(to, end)
        return b > a ? b - a : 0
    }

    @inline(__always) func contains(_ time: UInt64) -> Bool { time >= start && time <= end }
}
