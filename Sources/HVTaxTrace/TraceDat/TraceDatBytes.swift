#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a trace.dat's bytes live: an open file read with `pread` (so memory stays bounded by the
/// reader's buffers, not by the file), or bytes already in memory (a recording, a decompressed
/// section, a test's mutated file).
final class TraceDatBytes {
    enum Storage {
        case file(fd: Int32)
        case memory([UInt8])
    }

    let storage: Storage
    /// Every size in the file is checked against this, so a corrupted length cannot make the reader
    /// allocate more than the file could hold.
    let size: UInt64
    let name: String

    init(path: String) throws(TraceReadError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TraceReadError(file: path, location: "open", problem: String(cString: strerror(errno)))
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let problem = String(cString: strerror(errno))
            close(fd)
            throw TraceReadError(file: path, location: "stat", problem: problem)
        }
        storage = .file(fd: fd)
        size = UInt64(max(0, info.st_size))
        name = path
    }

    /// The whole file mapped read-only, made on first use: ring-buffer pages are then decoded in
    /// place, with no copy. Readers give consumed ranges back with `release`.
    private(set) lazy var mapping: UnsafeRawBufferPointer? = {
        guard case .file(let fd) = storage, size > 0, size < UInt64(Int.max) else { return nil }
        guard let base = mmap(nil, Int(size), PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { return nil }
        return UnsafeRawBufferPointer(start: base, count: Int(size))
    }()

    /// Drops mapped pages of [from, to) from this process (they stay in the page cache), so the
    /// resident set stays bounded however large the file.
    func release(from: UInt64, to: UInt64) {
        guard let mapping else { return }
        let page = Self.pageSize
        let start = (from + page - 1) / page * page
        let end = to / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: mapping.baseAddress! + Int(start)), Int(end - start), MADV_DONTNEED)
    }

    /// Maps [from, to) into this process in one call (MADV_POPULATE_READ, Linux 5.14): a batch
    /// is about to be decoded whole, and faulting it in 64 KiB at a time cost a fault per 16 pages.
    /// Older kernels refuse the advice; the pages then fault in as they are read.
    func populate(from: UInt64, to: UInt64) {
        guard let mapping, to > from else { return }
        let start = from / Self.pageSize * Self.pageSize
        _ = madvise(UnsafeMutableRawPointer(mutating: mapping.baseAddress! + Int(start)), Int(to - start), Self.populateRead)
    }

    /// The page size madvise ranges are aligned to: asked once, not per batch.
    private static let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))

    /// MADV_POPULATE_READ from the kernel's uapi mman-common.h (the Glibc overlay does not export it).
    static let populateRead: Int32 = 22

    init(bytes: [UInt8], name: String) {
        storage = .memory(bytes)
        size = UInt64(bytes.count)
        self.name = name
    }

    deinit {
        if case .file(let fd) = storage { close(fd) }
        if let mapping { munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress!), mapping.count) }
    }

    /// Fills `buffer` from `offset`; throws when the file ends first.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, section: String) throws(TraceReadError) {
        let count = UInt64(buffer.count)
        guard offset <= size, count <= size - offset else {
            throw TraceReadError(file: name, location: "section '\(section)', byte offset \(offset)",
                                 problem: "needs \(count) bytes but the file ends at byte \(size) (truncated?)")
        }
        switch storage {
        case .memory(let bytes):
            bytes.withUnsafeBytes { all in
                if count > 0 {
                    buffer.baseAddress!.copyMemory(from: all.baseAddress! + Int(offset), byteCount: Int(count))
                }
            }
        case .file(let fd):
            var done = 0
            while done < buffer.count {
                let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    let problem = n == 0 ? "unexpected end of file" : String(cString: strerror(errno))
                    throw TraceReadError(file: name, location: "section '\(section)', byte offset \(offset + UInt64(done))",
                                         problem: problem)
                }
                done += n
            }
        }
    }

    /// A copy of `count` bytes at `offset`, bounded by the file size.
    func bytes(at offset: UInt64, count: UInt64, section: String) throws(TraceReadError) -> [UInt8] {
        guard offset <= size, count <= size - offset else {
            throw TraceReadError(file: name, location: "section '\(section)', byte offset \(offset)",
                                 problem: "a size of \(count) bytes runs past the end of the file (\(size) bytes)")
        }
        if case .memory(let all) = storage {
            return Array(all[Int(offset)..<Int(offset + count)])
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(count), alignment: 8)
        defer { buffer.deallocate() }
        try read(at: offset, into: buffer, section: section)
        return Array(buffer)
    }
}

/// A bounds-checked reader over a byte array in the file's byte order. Every failure names the file,
/// the section and the absolute byte offset, so a user can find the damage with a hex dump.
struct ByteCursor {
    let bytes: [UInt8]
    var position: Int = 0
    let bigEndian: Bool
    let file: String
    let section: String
    /// The file offset of `bytes[0]`, or nil when the bytes were decompressed from a section.
    let fileOffset: UInt64?

    init(bytes: [UInt8], bigEndian: Bool, file: String, section: String, fileOffset: UInt64?) {
        self.bytes = bytes
        self.bigEndian = bigEndian
        self.file = file
        self.section = section
        self.fileOffset = fileOffset
    }

    var remaining: Int { bytes.count - position }
    var atEnd: Bool { position >= bytes.count }

    func error(_ problem: String, at position: Int? = nil) -> TraceReadError {
        let at = position ?? self.position
        let location: String
        if let fileOffset {
            location = "section '\(section)', byte offset \(fileOffset + UInt64(at))"
        } else {
            location = "section '\(section)' (decompressed), byte \(at) of \(bytes.count)"
        }
        return TraceReadError(file: file, location: location, problem: problem)
    }

    mutating func need(_ count: Int, _ what: String) throws(TraceReadError) {
        guard count >= 0, count <= remaining else {
            throw error("\(what): needs \(count) bytes, only \(remaining) left")
        }
    }

    mutating func u8(_ what: String) throws(TraceReadError) -> UInt8 {
        try need(1, what)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16(_ what: String) throws(TraceReadError) -> UInt16 {
        try need(2, what)
        defer { position += 2 }
        let raw = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: UInt16.self) }
        return bigEndian ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw)
    }

    mutating func u32(_ what: String) throws(TraceReadError) -> UInt32 {
        try need(4, what)
        defer { position += 4 }
        let raw = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: UInt32.self) }
        return bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
    }

    mutating func u64(_ what: String) throws(TraceReadError) -> UInt64 {
        try need(8, what)
        defer { position += 8 }
        let raw = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: UInt64.self) }
        return bigEndian ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)
    }

    /// A NUL-terminated string; the terminator must come before the end of the data.
    mutating func cString(_ what: String) throws(TraceReadError) -> String {
        guard let end = bytes[position...].firstIndex(of: 0) else {
            throw error("\(what): no NUL terminator before the end of the data")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    mutating func take(_ count: UInt64, _ what: String) throws(TraceReadError) -> ArraySlice<UInt8> {
        guard count <= UInt64(remaining) else {
            throw error("\(what): a size of \(count) bytes runs past the end (\(remaining) left)")
        }
        defer { position += Int(count) }
        return bytes[position..<position + Int(count)]
    }

    mutating func expect(_ literal: String, _ what: String) throws(TraceReadError) {
        let expected = Array(literal.utf8)
        try need(expected.count, what)
        guard bytes[position..<position + expected.count].elementsEqual(expected) else {
            let found = bytes[position..<position + expected.count].map { $0 >= 32 && $0 < 127 ? Character(UnicodeScalar($0)) : "." }
            throw error("expected \(what) \"\(literal.map { $0 == "\0" ? "\\0" : String($0) }.joined())\", found \"\(String(found))\"")
        }
        position += expected.count
    }
}
