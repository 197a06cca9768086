/// Thread id -> small integer, by open addressing with a multiplicative hash. The analysis looks
/// up two thread ids per sched_switch and one per kvm event; Swift's Dictionary hashes each with
/// SipHash, which cost more than the rest of the lookup. Grows with threads, never with events.
struct ThreadTable {
    private var keys: [Int32]
    private var values: [Int32]
    private(set) var count = 0
    private static let empty = Int32.min

    init(capacity: Int = 256) {
        keys = Array(repeating: Self.empty, count: capacity)
        values = Array(repeating: 0, count: capacity)
    }

    @inline(__always) private func slot(_ key: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt32(bitPattern: key) &* 0x9e37_79b1) >> 8) & (keys.count - 1)
    }

    @inline(__always) subscript(key: Int32) -> Int32? {
        var index = slot(key)
        while true {
            let found = keys[index]
            if found == key { return values[index] }
            if found == Self.empty { return nil }
            index = (index + 1) & (keys.count - 1)
        }
    }

    mutating func set(_ key: Int32, _ value: Int32) {
        precondition(key != Self.empty)
        var index = slot(key)
        while keys[index] != Self.empty && keys[index] != key { index = (index + 1) & (keys.count - 1) }
        if keys[index] == Self.empty { count += 1 }
        keys[index] = key
        values[index] = value
        if count * 2 > keys.count { grow() }
    }

    var pairs: [(key: Int32, value: Int32)] {
        keys.indices.compactMap { keys[$0] == Self.empty ? nil : (keys[$0], values[$0]) }
    }

    private mutating func grow() {
        let old = pairs
        keys = Array(repeating: Self.empty, count: keys.count * 2)
        values = Array(repeating: 0, count: keys.count)
        count = 0
        for (key, value) in old { set(key, value) }
    }
}
