#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small scanning helpers over a line's bytes. Indices are plain Ints into an
/// `UnsafeRawBufferPointer`; nothing here allocates.
extension UnsafeRawBufferPointer {
    @inline(__always) func isDigit(_ index: Int) -> Bool {
        index < count && self[index] &- 0x30 < 10
    }

    @inline(__always) func skipSpaces(from index: Int) -> Int {
        var i = index
        while i < count, self[i] == 0x20 || self[i] == 0x09 { i += 1 }
        return i
    }

    /// Parses decimal digits at `index`; returns nil when there is no digit or it overflows.
    @inline(__always) func decimal(at index: inout Int) -> UInt64? {
        var i = index
        var value: UInt64 = 0
        while i < count {
            let digit = self[i] &- 0x30
            guard digit < 10 else { break }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return nil }
            value = sum
            i += 1
        }
        guard i > index else { return nil }
        index = i
        return value
    }

    /// True when `literal` stands at `index`.
    @inline(__always) func matches(_ literal: StaticString, at index: Int) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard index >= 0, index + length <= count else { return false }
        let pattern = literal.utf8Start
        for k in 0..<length where self[index + k] != pattern[k] { return false }
        return true
    }

    /// The first index at or after `from` where `literal` starts. Trace lines are short, so an inline
    /// scan for the literal's first non-space byte (a space would match at every word) beats a libc call.
    @inline(__always) func find(_ literal: StaticString, from: Int = 0) -> Int? {
        let length = literal.utf8CodeUnitCount
        guard length > 0, from >= 0 else { return nil }
        let pattern = literal.utf8Start
        var anchor = 0
        while anchor < length - 1, pattern[anchor] == 0x20 { anchor += 1 }
        let anchorByte = pattern[anchor]
        var i = from + anchor
        let last = count - length + anchor
        while i <= last {
            if self[i] == anchorByte && matches(literal, at: i - anchor) { return i - anchor }
            i += 1
        }
        return nil
    }

    @inline(__always) func slice(_ from: Int, _ to: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[from..<to])
    }

    /// Trims spaces at both ends of [from, to).
    @inline(__always) func trimmed(_ from: Int, _ to: Int) -> (Int, Int) {
        var a = from, b = to
        while a < b, self[a] == 0x20 || self[a] == 0x09 { a += 1 }
        while b > a, self[b - 1] == 0x20 || self[b - 1] == 0x09 { b -= 1 }
        return (a, b)
    }

    var text: String { String(decoding: self, as: UTF8.self) }
}

extension UInt64 {
    /// self * factor + addend, nil past UInt64: a text timestamp's units summed without a trap.
    @inline(__always) func times(_ factor: UInt64, plus addend: UInt64) -> UInt64? {
        let (product, overflow) = multipliedReportingOverflow(by: factor)
        let (sum, carry) = product.addingReportingOverflow(addend)
        return overflow || carry ? nil : sum
    }
}
