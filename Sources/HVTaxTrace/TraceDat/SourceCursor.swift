/// A sequential, bounds-checked reader over a `TraceDatBytes`, for the metadata parts of a trace.dat
/// (headers, formats, options) that are read once. Every size is checked against what is left of
/// the source before anything is allocated.
struct SourceCursor {
    let source: TraceDatBytes
    var offset: UInt64
    let bigEndian: Bool
    var section: String
    /// For a decompressed section: the file offset of its compressed block, to name in errors.
    let decompressedFrom: UInt64?

    init(source: TraceDatBytes, offset: UInt64, bigEndian: Bool, section: String, decompressedFrom: UInt64? = nil) {
        self.source = source
        self.offset = offset
        self.bigEndian = bigEndian
        self.section = section
        self.decompressedFrom = decompressedFrom
    }

    var remaining: UInt64 { offset <= source.size ? source.size - offset : 0 }

    func error(_ problem: String, at position: UInt64? = nil) -> TraceReadError {
        let at = position ?? offset
        if let decompressedFrom {
            return TraceReadError(file: source.name,
                                  location: "section '\(section)' (compressed block at byte offset \(decompressedFrom)), decompressed byte \(at)",
                                  problem: problem)
        }
        return TraceReadError(file: source.name, location: "section '\(section)', byte offset \(at)", problem: problem)
    }

    private mutating func fixed<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws(TraceReadError) -> T {
        let width = UInt64(MemoryLayout<T>.size)
        guard width <= remaining else {
            throw error("\(what): needs \(width) bytes, the file ends at byte \(source.size) (truncated?)")
        }
        let raw: [UInt8]
        do {
            raw = try source.bytes(at: offset, count: width, section: section)
        } catch {
            throw self.error("\(what): \(error.problem)")
        }
        let value = raw.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
        offset += width
        return bigEndian ? T(bigEndian: value) : T(littleEndian: value)
    }

    mutating func u16(_ what: String) throws(TraceReadError) -> UInt16 { try fixed(UInt16.self, what) }
    mutating func u32(_ what: String) throws(TraceReadError) -> UInt32 { try fixed(UInt32.self, what) }
    mutating func u64(_ what: String) throws(TraceReadError) -> UInt64 { try fixed(UInt64.self, what) }

    mutating func bytes(_ count: UInt64, _ what: String) throws(TraceReadError) -> [UInt8] {
        guard count <= remaining else {
            throw error("\(what): a size of \(count) bytes runs past the end of the file (\(remaining) bytes left)")
        }
        let result = try source.bytes(at: offset, count: count, section: section)
        offset += count
        return result
    }

    mutating func skip(_ count: UInt64, _ what: String) throws(TraceReadError) {
        guard count <= remaining else {
            throw error("\(what): a size of \(count) bytes runs past the end of the file (\(remaining) bytes left)")
        }
        offset += count
    }

    /// A NUL-terminated string of at most `limit` bytes.
    mutating func cString(_ what: String, limit: Int = 4096) throws(TraceReadError) -> String {
        let window = min(UInt64(limit + 1), remaining)
        let chunk = try source.bytes(at: offset, count: window, section: section)
        guard let end = chunk.firstIndex(of: 0) else {
            throw error("\(what): no NUL-terminated string within \(limit) bytes")
        }
        offset += UInt64(end + 1)
        return String(decoding: chunk[..<end], as: UTF8.self)
    }

    mutating func expect(_ literal: String, _ what: String) throws(TraceReadError) {
        let start = offset
        let expected = Array(literal.utf8)
        let found = try bytes(UInt64(expected.count), what)
        guard found == expected else {
            let shown = String(found.map { $0 >= 32 && $0 < 127 ? Character(UnicodeScalar($0)) : "." })
            throw error("expected \(what), found \"\(shown)\"", at: start)
        }
    }
}
