#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HVTaxTrace
import SystemPackage

/// Reads a file line by line over one reusable buffer: memory is the longest line plus a chunk,
/// whatever the file's length. An esxtop row with thousands of columns is one line of tens of
/// kilobytes, so the buffer grows to fit a line rather than splitting cells across reads.
final class LineReader {
    let path: String
    private let fd: FileDescriptor
    private var buffer: UnsafeMutableRawBufferPointer
    /// Unread bytes are `buffer[start..<end]`.
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// 1-based number of the line last returned.
    private(set) var lineNumber: UInt64 = 0
    /// Byte offset in the file of the line last returned.
    private(set) var lineOffset: UInt64 = 0
    private var consumed: UInt64 = 0
    /// The last line returned had no newline: the file ended in the middle of it.
    private(set) var lastLineUnterminated = false

    init(path: String, chunkBytes: Int = 1 << 20) throws {
        self.path = path
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly)
        } catch {
            throw TraceReadError(file: path, location: "open", problem: "cannot open: \(error)")
        }
        buffer = .allocate(byteCount: chunkBytes, alignment: 16)
    }

    deinit {
        buffer.deallocate()
        try? fd.close()
    }

    /// Bytes read from the file so far.
    var bytesRead: UInt64 { consumed + UInt64(end) }

    /// Up to `count` bytes from the start of the file without consuming them (for detection).
    func peek(_ count: Int) throws -> [UInt8] {
        while end - start < count, !atEOF { try fill() }
        return Array(UnsafeRawBufferPointer(rebasing: buffer[start..<min(end, start + count)]))
    }

    /// The next line without its `\n` (and `\r`), valid until the next call; nil at end of file.
    func nextLine() throws -> UnsafeRawBufferPointer? {
        var searchFrom = start
        while true {
            let base = buffer.baseAddress!
            if searchFrom < end, let hit = memchr(base + searchFrom, 0x0A, end - searchFrom) {
                let newline = base.distance(to: UnsafeMutableRawPointer(hit))
                return emit(upTo: newline, next: newline + 1, terminated: true)
            }
            if atEOF {
                guard start < end else { return nil }
                return emit(upTo: end, next: end, terminated: false)
            }
            searchFrom = end
            let shift = start
            try fill()
            searchFrom -= shift
        }
    }

    private func emit(upTo lineEnd: Int, next: Int, terminated: Bool) -> UnsafeRawBufferPointer {
        var stop = lineEnd
        if stop > start, buffer[stop - 1] == 0x0D { stop -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: buffer[start..<stop])
        lineNumber += 1
        lineOffset = consumed + UInt64(start)
        lastLineUnterminated = !terminated
        start = next
        return line
    }

    /// Moves unread bytes to the front (growing the buffer when a line fills it) and reads more.
    private func fill() throws {
        if start > 0 {
            let unread = end - start
            if unread > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: unread) }
            consumed += UInt64(start)
            start = 0
            end = unread
        }
        if end == buffer.count {
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 16)
            bigger.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end)
            buffer.deallocate()
            buffer = bigger
        }
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer[end...])
        let count: Int
        do {
            count = try fd.read(into: target, retryOnInterrupt: true)
        } catch {
            throw TraceReadError(file: path, location: "byte offset \(bytesRead)", problem: "read failed: \(error)")
        }
        if count == 0 { atEOF = true } else { end += count }
    }
}
