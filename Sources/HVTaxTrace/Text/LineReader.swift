#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte source into lines without copying them: each line is a view into one large buffer,
/// valid until the next call. Lines that straddle two reads are moved to the front once.
final class LineReader {
    private let source: ByteSource
    private let path: String
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var ended = false
    /// 1-based number of the line last returned.
    private(set) var lineNumber: UInt64 = 0
    /// The line last returned had no newline after it: the input ended inside it.
    private(set) var lastLineUnterminated = false

    /// Longest line accepted: a trace line is a few hundred bytes, so this only stops runaway input.
    static let maxLineBytes = 16 << 20

    /// Reading with read(2) into one 1 MiB buffer measured as fast as mapping the file (2.23 s
    /// against 2.29 s for 10M events) and keeps the resident set flat whatever the file's size.
    init(source: ByteSource, path: String, chunkBytes: Int = 1 << 20) {
        self.source = source
        self.path = path
        buffer = .allocate(byteCount: chunkBytes, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// The next line without its newline (and without a trailing CR), or nil at the end.
    func next() throws -> UnsafeRawBufferPointer? {
        while true {
            if start < end {
                let base = buffer.baseAddress! + start
                if let newline = memchr(base, 0x0a, end - start) {
                    let length = base.distance(to: newline)
                    start += length + 1
                    lineNumber += 1
                    return Self.trimCR(UnsafeRawBufferPointer(start: base, count: length))
                }
            }
            if ended {
                guard start < end else { return nil }
                let line = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: end - start)
                start = end
                lineNumber += 1
                lastLineUnterminated = true
                return Self.trimCR(line)
            }
            try refill()
        }
    }

    private func refill() throws {
        if start > 0 {
            let pending = end - start
            if pending > 0 { memmove(buffer.baseAddress!, buffer.baseAddress! + start, pending) }
            start = 0
            end = pending
        }
        if end == buffer.count {
            guard buffer.count < Self.maxLineBytes else {
                throw TraceReadError(file: path, location: "line \(lineNumber + 1)",
                                     problem: "line longer than \(Self.maxLineBytes) bytes: not a text trace")
            }
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 64)
            bigger.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end)
            buffer.deallocate()
            buffer = bigger
        }
        let count = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        if count == 0 { ended = true } else { end += count }
    }

    private static func trimCR(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if let last = line.last, last == 0x0d {
            return UnsafeRawBufferPointer(rebasing: line.dropLast())
        }
        return line
    }
}
