#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The PDH-CSV layout that typeperf, relog, perfmon and `esxtop -b` write: a header row whose first
/// cell names the format, time zone and bias, then one quoted cell per counter, one row per sample.
enum PDHCSV {
    static let quote: UInt8 = 0x22
    static let comma: UInt8 = 0x2C

    /// Why a row's cells could not be split.
    struct ScanError: Error, Equatable {
        var problem: String
    }

    /// Walks a row's cells over its raw bytes, calling `body(column, start, end)` with the cell's
    /// byte range without its quotes (column 0 is the timestamp). No String, no array per cell:
    /// an esxtop row has thousands, and most are skipped unread.
    @inline(__always)
    static func scanCells(_ row: UnsafeRawBufferPointer, _ body: (Int, Int, Int) -> Void) throws(ScanError) -> Int {
        let count = row.count
        guard let base = row.baseAddress, count > 0 else { return 0 }
        var position = 0
        var column = 0
        while true {
            let cellStart: Int
            let cellEnd: Int
            if position < count, base.load(fromByteOffset: position, as: UInt8.self) == quote {
                var searchFrom = position + 1
                while true {
                    guard let hit = memchr(base + searchFrom, Int32(quote), count - searchFrom) else {
                        throw ScanError(problem: "column \(column + 1) opens a quote that the line never closes")
                    }
                    let close = base.distance(to: UnsafeRawPointer(hit))
                    // A doubled quote inside a quoted cell is a literal quote (RFC 4180).
                    if close + 1 < count, base.load(fromByteOffset: close + 1, as: UInt8.self) == quote {
                        searchFrom = close + 2
                        continue
                    }
                    cellStart = position + 1
                    cellEnd = close
                    position = close + 1
                    break
                }
            } else {
                // Unquoted cells are not what PDH writes, but tools that rewrite the file do.
                if let hit = memchr(base + position, Int32(comma), count - position) {
                    cellEnd = base.distance(to: UnsafeRawPointer(hit))
                } else {
                    cellEnd = count
                }
                cellStart = position
                position = cellEnd
            }
            body(column, cellStart, cellEnd)
            column += 1
            if position >= count { return column }
            guard base.load(fromByteOffset: position, as: UInt8.self) == comma else {
                throw ScanError(problem: "expected ',' after column \(column), found '\(Character(Unicode.Scalar(base.load(fromByteOffset: position, as: UInt8.self))))'")
            }
            position += 1
        }
    }

    /// A row's cells as Strings, quotes undone: for the header, read once.
    static func cells(_ row: UnsafeRawBufferPointer) throws(ScanError) -> [String] {
        var cells: [String] = []
        _ = try scanCells(row) { _, start, end in
            let bytes = UnsafeRawBufferPointer(rebasing: row[start..<end])
            var text = String(decoding: bytes, as: UTF8.self)
            if text.contains("\"\"") { text = text.replacing("\"\"", with: "\"") }
            cells.append(text)
        }
        return cells
    }

    // MARK: numbers

    enum Number {
        case blank
        case value(Double)
        case invalid
    }

    /// Exact powers of ten up to 10^22: every one is a Double without rounding.
    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Parses a counter value in place. Accepts what PDH writers produce: `11.296813511113458`,
    /// `1.5e-05`, `-1`, a comma as decimal point (some localized relog output), and a dangling
    /// exponent `7.0625001143654654e` as in Microsoft's own PDH-CSV example. `" "` is blank.
    @inline(__always)
    static func number(_ base: UnsafeRawPointer, _ start: Int, _ end: Int) -> Number {
        var position = start
        var stop = end
        while position < stop, base.load(fromByteOffset: position, as: UInt8.self) == 0x20 { position += 1 }
        while stop > position, base.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x20 { stop -= 1 }
        if position == stop { return .blank }
        var negative = false
        var byte = base.load(fromByteOffset: position, as: UInt8.self)
        if byte == 0x2D || byte == 0x2B {
            negative = byte == 0x2D
            position += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawDigit = false
        var sawPoint = false
        while position < stop {
            byte = base.load(fromByteOffset: position, as: UInt8.self)
            let digit = byte &- 0x30
            if digit < 10 {
                sawDigit = true
                // Beyond 19 significant digits a UInt64 overflows; the rest only moves the exponent.
                if digits < 19 {
                    if mantissa != 0 || digit != 0 { digits += 1 }
                    mantissa = mantissa &* 10 &+ UInt64(digit)
                    if sawPoint { exponent -= 1 }
                } else if !sawPoint {
                    exponent += 1
                }
            } else if (byte == 0x2E || byte == 0x2C) && !sawPoint {
                sawPoint = true
            } else {
                break
            }
            position += 1
        }
        guard sawDigit else { return .invalid }
        if position < stop {
            guard byte == 0x65 || byte == 0x45 else { return .invalid }
            position += 1
            var exponentNegative = false
            if position < stop {
                let sign = base.load(fromByteOffset: position, as: UInt8.self)
                if sign == 0x2D || sign == 0x2B {
                    exponentNegative = sign == 0x2D
                    position += 1
                }
            }
            var written = 0
            while position < stop {
                let digit = base.load(fromByteOffset: position, as: UInt8.self) &- 0x30
                guard digit < 10 else { return .invalid }
                if written < 10_000 { written = written * 10 + Int(digit) }
                position += 1
            }
            exponent += exponentNegative ? -written : written
        }
        var value = Double(mantissa)
        if exponent != 0 && mantissa != 0 {
            if exponent > 0 {
                value = exponent <= 22 ? value * powersOfTen[exponent] : value * pow(10, Double(exponent))
            } else {
                value = -exponent <= 22 ? value / powersOfTen[-exponent] : value / pow(10, Double(-exponent))
            }
        }
        return .value(negative ? -value : value)
    }

    // MARK: timestamps

    /// `MM/dd/yyyy HH:mm:ss[.fff]` as PDH writes it, to seconds since 1970 in the writer's local
    /// time (the header's bias turns it into UTC).
    static func localSeconds(_ base: UnsafeRawPointer, _ start: Int, _ end: Int) -> Double? {
        var position = start
        func field(_ maxDigits: Int) -> Int? {
            var value = 0
            var count = 0
            while position < end, count < maxDigits {
                let digit = base.load(fromByteOffset: position, as: UInt8.self) &- 0x30
                guard digit < 10 else { break }
                value = value * 10 + Int(digit)
                count += 1
                position += 1
            }
            return count == 0 ? nil : value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard position < end, base.load(fromByteOffset: position, as: UInt8.self) == byte else { return false }
            position += 1
            return true
        }
        while position < end, base.load(fromByteOffset: position, as: UInt8.self) == 0x20 { position += 1 }
        guard let month = field(2), expect(0x2F), let day = field(2), expect(0x2F), let year = field(4),
              expect(0x20), let hour = field(2), expect(0x3A), let minute = field(2), expect(0x3A),
              let second = field(2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if expect(0x2E) {
            var scale = 0.1
            while position < end {
                let digit = base.load(fromByteOffset: position, as: UInt8.self) &- 0x30
                guard digit < 10 else { break }
                fraction += Double(digit) * scale
                scale /= 10
                position += 1
            }
        }
        while position < end, base.load(fromByteOffset: position, as: UInt8.self) == 0x20 { position += 1 }
        guard position == end else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Double(days * 86_400 + hour * 3_600 + minute * 60 + second) + fraction
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Seconds since 1970 back to `MM/dd/yyyy HH:mm:ss.fff`, the way the capture wrote them.
    static func formatLocal(_ seconds: Double) -> String {
        let millisTotal = Int((seconds * 1000).rounded())
        let days = Int((Double(millisTotal) / 86_400_000).rounded(.down))
        let millisOfDay = millisTotal - days * 86_400_000
        // Inverse of daysFromCivil.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let hour = millisOfDay / 3_600_000
        let minute = millisOfDay / 60_000 % 60
        let second = millisOfDay / 1000 % 60
        let millis = millisOfDay % 1000
        return "\(pad(month, 2))/\(pad(day, 2))/\(pad(year, 4)) \(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(millis, 3))"
    }

    // MARK: header

    /// The first cell: `(PDH-CSV 4.0) (Eastern Daylight Time)(240)`.
    struct Preamble: Equatable {
        var format: String
        var timeZone: String?
        var biasMinutes: Int?
    }

    static func preamble(_ cell: String) -> Preamble? {
        let text = cell.trimmingSpaces()
        guard text.hasPrefix("(PDH-CSV"), let close = text.firstIndex(of: ")") else { return nil }
        let format = String(text[text.index(after: text.startIndex)..<close])
        var rest = text[text.index(after: close)...].trimmingSpaces()[...]
        var biasMinutes: Int?
        // The bias is the last parenthesised group; the time zone is whatever stands before it.
        if rest.hasSuffix(")"), let open = rest.lastIndex(of: "("),
           let bias = Int(rest[rest.index(after: open)..<rest.index(before: rest.endIndex)].trimmingSpaces()) {
            biasMinutes = bias
            rest = rest[..<open]
        }
        var zone = rest.trimmingSpaces()[...]
        if zone.hasPrefix("("), zone.hasSuffix(")") { zone = zone.dropFirst().dropLast() }
        return Preamble(format: format, timeZone: zone.isEmpty ? nil : String(zone), biasMinutes: biasMinutes)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces (no Foundation in this module).
    func trimmingSpaces() -> String {
        var slice = self[...]
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return String(slice)
    }
}
