/// The thread counters of one sample by tid, kept in the order the sampler read them.
///
/// Why not a dictionary: the sampler stores ~1,000 of these a second and the analyzer looks each up
/// twice (this sample and the last), and on a steady host both walk the VMs' threads in the same
/// order. A dictionary hashed every tid and scattered the writes over freshly allocated storage, as
/// much as the parsing of the files they came from; here a store is an append, and a lookup with a
/// `Cursor` finds the next entry where the last one ended. A lookup out of order searches from the
/// cursor on and then from the start, and the cursor follows it, so a thread added or gone costs one
/// search and the walk is back in step after it.
public struct ThreadCounterTable: Sendable, ExpressibleByDictionaryLiteral {
    public private(set) var tids: [Int32] = []
    public private(set) var values: [ThreadCounters] = []

    /// Where a walk in read order expects the next tid.
    public struct Cursor: Sendable {
        var position = 0
        public init() {}
    }

    public init() {}

    /// Ordered by tid, so a table made from a dictionary does not depend on its hash seed.
    public init(_ counters: [Int32: ThreadCounters]) {
        for (tid, value) in counters.sorted(by: { $0.key < $1.key }) { append(tid, value) }
    }

    public init(dictionaryLiteral elements: (Int32, ThreadCounters)...) {
        for (tid, value) in elements { self[tid] = value }
    }

    public var count: Int { tids.count }
    public var isEmpty: Bool { tids.isEmpty }

    public mutating func reserveCapacity(_ n: Int) {
        tids.reserveCapacity(n)
        values.reserveCapacity(n)
    }

    /// Adds a thread read this sample; the caller reads each tid once (`subscript` replaces).
    @inline(__always)
    public mutating func append(_ tid: Int32, _ counters: ThreadCounters) {
        tids.append(tid)
        values.append(counters)
    }

    /// The thread's counters, found where `cursor` expects them when the caller walks in read order.
    @inline(__always)
    public func counters(of tid: Int32, cursor: inout Cursor) -> ThreadCounters? {
        let at = cursor.position
        if at < tids.count && tids[at] == tid {
            cursor.position = at + 1
            return values[at]
        }
        guard let found = index(of: tid, from: at) else { return nil }
        cursor.position = found + 1
        return values[found]
    }

    /// By tid, searching the whole table: for callers outside a walk in read order.
    public subscript(tid: Int32) -> ThreadCounters? {
        get { index(of: tid, from: 0).map { values[$0] } }
        set {
            switch (index(of: tid, from: 0), newValue) {
            case (let at?, let value?): values[at] = value
            case (let at?, nil):
                tids.remove(at: at)
                values.remove(at: at)
            case (nil, let value?): append(tid, value)
            case (nil, nil): break
            }
        }
    }

    /// The place of `tid`, searched from `start` to the end and then from the beginning.
    private func index(of tid: Int32, from start: Int) -> Int? {
        let start = min(start, tids.count)
        return tids[start...].firstIndex(of: tid) ?? tids[..<start].firstIndex(of: tid)
    }
}
