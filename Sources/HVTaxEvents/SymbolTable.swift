#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HVTaxModel

/// Interns byte strings (task names, event names, exit reasons) to dense small integers, so a reader
/// turns a name into a number with one hash and one compare, and the analysis indexes arrays by it.
///
/// Not thread-safe: one table belongs to one reading pipeline.
public final class Interner {
    private var bytes: [UInt8] = []
    private var spans: [(start: Int, count: Int)] = [(0, 0)]
    private var strings: [String?] = [""]
    /// Open addressing: slot -> symbol + 1 (0 = empty).
    private var slots: [UInt32] = Array(repeating: 0, count: 1024)
    private var hashes: [UInt64] = [0]

    public init() {}

    /// Symbol 0 is the empty string, meaning "unknown".
    public var count: Int { spans.count }

    /// Names of up to 24 bytes (task names are at most 15, event and reason names short) are found
    /// in a direct-mapped cache keyed by their bytes as three words: no hashing loop, no compare call.
    private struct ShortKey: Equatable {
        var length: Int
        var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0
    }
    private var shortKeys = [ShortKey](repeating: ShortKey(length: -1), count: 4096)
    private var shortSymbols = [UInt32](repeating: 0, count: 4096)

    public func intern(_ text: UnsafeRawBufferPointer) -> UInt32 {
        intern(text, readableBytes: text.count)
    }

    /// - Parameter readableBytes: how many bytes from `text`'s start may be read (at least its
    ///   count). When 24 are readable, short names are loaded as three words without a copy.
    @inline(__always)
    public func intern(_ text: UnsafeRawBufferPointer, readableBytes: Int) -> UInt32 {
        let length = text.count
        if length == 0 { return 0 }
        guard length <= 24 else { return internSlow(text) }
        var key = ShortKey(length: length)
        if readableBytes >= 24 {
            let base = text.baseAddress!
            // Keep only the name's own bytes of each word (little-endian: the low bytes).
            func masked(_ offset: Int) -> UInt64 {
                let remaining = length - offset
                if remaining <= 0 { return 0 }
                let word = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                return remaining >= 8 ? word : word & ((1 << UInt64(remaining * 8)) - 1)
            }
            key.w0 = masked(0)
            key.w1 = masked(8)
            key.w2 = masked(16)
        } else {
            withUnsafeMutablePointer(to: &key) { pointer in
                let words = UnsafeMutableRawPointer(pointer) + MemoryLayout<ShortKey>.offset(of: \ShortKey.w0)!
                words.copyMemory(from: text.baseAddress!, byteCount: length)
            }
        }
        var mix = key.w0 &* 0x9e37_79b9_7f4a_7c15
        mix ^= key.w1 &* 0xc2b2_ae3d_27d4_eb4f
        mix ^= key.w2 &* 0x1656_67b1_9e37_79f9
        mix ^= UInt64(length)
        let slot = Int(truncatingIfNeeded: (mix ^ (mix >> 29)) & 4095)
        if shortKeys[slot] == key { return shortSymbols[slot] }
        let symbol = internSlow(text)
        shortKeys[slot] = key
        shortSymbols[slot] = symbol
        return symbol
    }

    private func internSlow(_ text: UnsafeRawBufferPointer) -> UInt32 {
        let hash = Self.fnv1a(text)
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { break }
            let symbol = Int(entry - 1)
            if hashes[symbol] == hash && equals(symbol, text) { return UInt32(symbol) }
            slot = (slot + 1) & mask
        }
        let symbol = spans.count
        spans.append((bytes.count, text.count))
        bytes.append(contentsOf: text)
        strings.append(nil)
        hashes.append(hash)
        slots[slot] = UInt32(symbol + 1)
        if spans.count * 2 > slots.count { grow() }
        return UInt32(symbol)
    }

    public func intern(_ text: String) -> UInt32 {
        var copy = text
        return copy.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    public func string(_ symbol: UInt32) -> String {
        let index = Int(symbol)
        if let cached = strings[index] { return cached }
        let span = spans[index]
        let text = String(decoding: bytes[span.start..<span.start + span.count], as: UTF8.self)
        strings[index] = text
        return text
    }

    private func equals(_ symbol: Int, _ text: UnsafeRawBufferPointer) -> Bool {
        let span = spans[symbol]
        guard span.count == text.count else { return false }
        return bytes.withUnsafeBytes { stored in
            memcmp(stored.baseAddress! + span.start, text.baseAddress!, span.count) == 0
        }
    }

    private func grow() {
        var bigger = [UInt32](repeating: 0, count: slots.count * 2)
        let mask = bigger.count - 1
        for symbol in 1..<spans.count {
            var slot = Int(truncatingIfNeeded: hashes[symbol]) & mask
            while bigger[slot] != 0 { slot = (slot + 1) & mask }
            bigger[slot] = UInt32(symbol + 1)
        }
        slots = bigger
    }

    private static func fnv1a(_ text: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }
}

/// The names a reading pipeline interns. Several readers (one per file) share one table, so a
/// symbol means the same thing in every file of a merged analysis.
public final class SymbolTable {
    /// Task names and event names.
    public let names = Interner()
    /// Exit reason names as the kernel prints them (`EPT_VIOLATION`, `PF excp`, `UNKNOWN (99)`).
    public let reasons = Interner()
    private var numericReasons: [UInt64: UInt32] = [:]
    /// Printed reason symbol -> the kernel's name's symbol + 1 (0: not looked up yet).
    private var kernelNames: [UInt32] = []

    public init() {}

    /// The reason symbol for a numeric exit reason (raw fields, LTTng), named by the kernel's tables.
    public func reason(code: UInt32, isa: ISA) -> UInt32 {
        let key = UInt64(code) | (UInt64(isa == .vmx ? 1 : isa == .svm ? 2 : 0) << 32)
        if let symbol = numericReasons[key] { return symbol }
        let symbol = reasons.intern(ExitReasonTable.name(code: code, isa: isa))
        numericReasons[key] = symbol
        return symbol
    }

    /// The symbol of the kernel's name for a reason symbol as a text trace printed it: itself,
    /// except for libtraceevent's plugin names (`EXIT_NPF` -> `npf`, `PENDING_INTERRUPT` ->
    /// `INTERRUPT_WINDOW`), so a trace reads the same through `trace-cmd report` as from the kernel.
    /// One array load per exit once a name has been seen.
    @inline(__always)
    public func kernelReason(_ printed: UInt32) -> UInt32 {
        let index = Int(printed)
        if index < kernelNames.count, kernelNames[index] != 0 { return kernelNames[index] - 1 }
        return lookUpKernelReason(printed)
    }

    private func lookUpKernelReason(_ printed: UInt32) -> UInt32 {
        let index = Int(printed)
        if kernelNames.count <= index { kernelNames.append(contentsOf: repeatElement(0, count: index + 1 - kernelNames.count)) }
        let symbol = ExitReasonTable.kernelName(ofPluginName: reasons.string(printed)).map { reasons.intern($0) } ?? printed
        kernelNames[index] = symbol + 1
        return symbol
    }
}
