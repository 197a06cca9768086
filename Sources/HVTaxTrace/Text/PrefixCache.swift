#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Remembers how recent line prefixes (`TASK-PID (TGID) [CPU]`, up to the CPU column) parsed. Every
/// event of one thread on one CPU starts with the same bytes, so most lines are recognised by one
/// compare instead of being parsed again. A hit is verified byte for byte: never a guess.
final class PrefixCache {
    struct Parsed {
        var length: Int
        var tid: Int32
        var tgid: Int32
        var comm: UInt32
        var cpu: Int32
    }

    private static let slots = 512
    /// Longest prefix kept; longer ones are simply parsed every time.
    private static let maxBytes = 96
    /// Prefixes are keyed by their first 24 bytes; shorter prefixes are parsed every time.
    private static let keyBytes = 24

    private let bytes = UnsafeMutableRawPointer.allocate(byteCount: slots * maxBytes, alignment: 64)
    private var parsed = [Parsed](repeating: Parsed(length: 0, tid: 0, tgid: 0, comm: 0, cpu: 0), count: slots)

    init() {}

    deinit { bytes.deallocate() }

    @inline(__always) private static func slot(_ base: UnsafeRawPointer) -> Int {
        var mix = base.loadUnaligned(as: UInt64.self) &* 0x9e37_79b9_7f4a_7c15
        mix ^= base.loadUnaligned(fromByteOffset: 8, as: UInt64.self) &* 0xc2b2_ae3d_27d4_eb4f
        mix ^= base.loadUnaligned(fromByteOffset: 16, as: UInt64.self) &* 0x1656_67b1_9e37_79f9
        return Int(truncatingIfNeeded: (mix ^ (mix >> 31)) % UInt64(slots))
    }

    @inline(__always) func lookup(_ line: UnsafeRawBufferPointer) -> Parsed? {
        guard line.count > Self.keyBytes else { return nil }
        let slot = Self.slot(line.baseAddress!)
        let entry = parsed[slot]
        guard entry.length >= Self.keyBytes, entry.length < line.count,
              memcmp(bytes + slot * Self.maxBytes, line.baseAddress!, entry.length) == 0 else { return nil }
        return entry
    }

    func store(_ line: UnsafeRawBufferPointer, _ entry: Parsed) {
        guard line.count > Self.keyBytes, entry.length >= Self.keyBytes, entry.length <= Self.maxBytes else { return }
        let slot = Self.slot(line.baseAddress!)
        (bytes + slot * Self.maxBytes).copyMemory(from: line.baseAddress!, byteCount: entry.length)
        parsed[slot] = entry
    }
}
