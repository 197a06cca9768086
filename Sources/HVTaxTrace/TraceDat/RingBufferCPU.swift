/// The layout of a ring-buffer page, from the file's `header_page` format:
///
///     field: u64 timestamp;  offset:0;  size:8;
///     field: local_t commit; offset:8;  size:8;   (the kernel's long)
///     field: char data;      offset:16; size:4080;
struct PageLayout {
    let timestampOffset: Int
    let commitOffset: Int
    let commitSize: Int
    let dataOffset: Int
    let pageSize: Int

    /// `commit` carries flags above the data size.
    static let missedEvents: UInt64 = 1 << 31
    static let missedStored: UInt64 = 1 << 30
    static let commitMask: UInt64 = (1 << 27) - 1

    init(file: TraceDatFile) throws(TraceReadError) {
        let page = file.headerPage
        guard let timestamp = page.field("timestamp"), timestamp.size == 8,
              let commit = page.field("commit"), commit.size == 4 || commit.size == 8,
              let data = page.field("data") else {
            throw TraceReadError(file: file.path, location: "section 'header info'",
                                 problem: "header_page lacks a u64 timestamp, a 4/8-byte commit or a data field")
        }
        timestampOffset = timestamp.offset
        commitOffset = commit.offset
        commitSize = commit.size
        dataOffset = data.offset
        pageSize = file.pageSize
        guard timestampOffset + 8 <= dataOffset, commitOffset + commitSize <= dataOffset, dataOffset < pageSize else {
            throw TraceReadError(file: file.path, location: "section 'header info'",
                                 problem: "header_page fields overlap the data or do not fit a \(pageSize)-byte page")
        }
    }
}

/// One CPU's ring-buffer pages, read in bounded batches (uncompressed) or chunk by chunk (v7
/// compressed), decoded record by record. Memory is one batch or one chunk, whatever the file size.
final class RingBufferCPU {
    let cpu: Int32
    private let source: TraceDatBytes
    private let layout: PageLayout
    private let bigEndian: Bool
    private let compression: TraceDatCompression
    private let compressed: Bool

    /// The bytes of the current batch of pages: `buffer`, or the file's mapping in place.
    private var buffer: UnsafeMutableRawBufferPointer
    private var base: UnsafeRawPointer
    private let mapping: UnsafeRawBufferPointer?
    private var mappedBatchStart: UInt64?
    private var bufferUsed = 0
    private var scratch: [UInt8] = []

    /// Uncompressed: the next file offset to read and where this CPU's data ends.
    private var nextOffset: UInt64
    private let endOffset: UInt64
    /// Compressed: chunks not yet read.
    private var chunksLeft: UInt32 = 0

    /// The page being decoded: its start in `buffer`, where its data ends, and the read position.
    private var pageStart = 0
    private var pageEnd = 0
    private var position = 0
    private var dataEnd = 0
    private var timestamp: UInt64 = 0
    private var pageFileOffset: UInt64 = 0
    /// The time of the last record returned: lost events happened after it.
    private var lastRecordTime: UInt64?
    /// The latest time of any record returned. The kernel writes a CPU's records in time order; a
    /// page or absolute timestamp that steps back (a damaged or rewritten file) makes the records
    /// after it late, and the analysis charges them at their vCPU's last time.
    private var latestRecordTime: UInt64 = 0
    /// Records earlier than one this CPU had already returned.
    private(set) var lateRecords: UInt64 = 0
    /// The file ends inside this CPU's data: its end is a gap of unknown size, not the trace's end.
    private let truncated: Bool
    private var reportedEnd = false
    private var batchFileOffset: UInt64 = 0

    /// What `next()` found.
    enum Item {
        case record(start: Int, length: Int, time: UInt64)
        /// The kernel dropped events before this page; `count` nil when it did not store how many.
        case lost(count: UInt64?, time: UInt64)
        /// The file ends inside this CPU's data: what came after the last record is missing.
        case dataCut(time: UInt64)
    }

    static let absoluteTimestampMSB: UInt64 = 0xf8 << 56

    init(cpu: Int32, data: TraceDatFile.CPUData, file: TraceDatFile, layout: PageLayout, batchBytes: Int) throws(TraceReadError) {
        self.cpu = cpu
        source = file.source
        self.layout = layout
        bigEndian = file.bigEndian
        compression = file.compression
        compressed = file.cpuDataCompressed
        truncated = file.truncatedCPUs.contains { $0.cpu == data.cpu }
        nextOffset = data.offset
        // trace-cmd's size of compressed CPU data leaves out the 4-byte chunk count before it.
        // Never before the start: a truncated file can end before this CPU's data begins.
        endOffset = max(data.offset, min(file.source.size, data.offset + data.size + (file.cpuDataCompressed ? 4 : 0)))
        let capacity = compressed ? layout.pageSize : max(layout.pageSize, batchBytes / layout.pageSize * layout.pageSize)
        buffer = .allocate(byteCount: capacity, alignment: 8)
        base = UnsafeRawPointer(buffer.baseAddress!)
        mapping = compressed ? nil : file.source.mapping
        if compressed && data.size > 0 {
            var cursor = SourceCursor(source: source, offset: data.offset, bigEndian: bigEndian, section: "cpu \(cpu) compressed data")
            chunksLeft = try cursor.u32("chunk count")
            // Each chunk needs at least its 8-byte header, so the count cannot exceed the data size.
            guard UInt64(chunksLeft) * 8 <= data.size else {
                throw cursor.error("\(chunksLeft) compressed chunks cannot fit in \(data.size) bytes", at: data.offset)
            }
            nextOffset = cursor.offset
        }
    }

    deinit {
        buffer.deallocate()
        if let start = mappedBatchStart { source.release(from: start, to: nextOffset) }
    }

    private var location: String { "cpu \(cpu) data, page at byte offset \(pageFileOffset)" }

    private func corrupt(_ problem: String) -> TraceReadError {
        TraceReadError(file: source.name, location: location, problem: problem)
    }

    /// Fills `buffer` with the next batch of whole pages; false at the end of this CPU's data.
    private func refill() throws(TraceReadError) -> Bool {
        bufferUsed = 0
        pageStart = 0
        pageEnd = 0
        if !compressed {
            let left = endOffset - nextOffset
            let pages = min(UInt64(buffer.count), left) / UInt64(layout.pageSize)
            guard pages > 0 else { return false }
            let bytes = Int(pages) * layout.pageSize
            if let mapping {
                // Decode in place; the batch just finished goes back to the kernel.
                if let start = mappedBatchStart { source.release(from: start, to: nextOffset) }
                mappedBatchStart = nextOffset
                source.populate(from: nextOffset, to: nextOffset + UInt64(bytes))
                base = mapping.baseAddress! + Int(nextOffset)
            } else {
                try source.read(at: nextOffset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes]), section: "cpu \(cpu) data")
                base = UnsafeRawPointer(buffer.baseAddress!)
            }
            batchFileOffset = nextOffset
            nextOffset += UInt64(bytes)
            bufferUsed = bytes
            return true
        }
        while chunksLeft > 0 {
            chunksLeft -= 1
            var cursor = SourceCursor(source: source, offset: nextOffset, bigEndian: bigEndian, section: "cpu \(cpu) compressed data")
            let chunkOffset = nextOffset
            let compressedSize = try cursor.u32("chunk compressed size")
            let size = try cursor.u32("chunk uncompressed size")
            guard cursor.offset + UInt64(compressedSize) <= endOffset else {
                throw cursor.error("a chunk of \(compressedSize) bytes runs past this CPU's data", at: chunkOffset)
            }
            guard TraceDatCompression.plausible(uncompressed: size, compressed: compressedSize) else {
                throw cursor.error("a chunk of \(compressedSize) compressed bytes claims \(size) uncompressed bytes", at: chunkOffset)
            }
            scratch = try cursor.bytes(UInt64(compressedSize), "chunk data")
            nextOffset = cursor.offset
            if Int(size) > buffer.count {
                buffer.deallocate()
                buffer = .allocate(byteCount: Int(size), alignment: 8)
            }
            base = UnsafeRawPointer(buffer.baseAddress!)
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(size)])
            if let problem = scratch.withUnsafeBytes({ compression.decompress($0, into: target) }) {
                throw cursor.error("\(compression.name) chunk: \(problem)", at: chunkOffset)
            }
            batchFileOffset = chunkOffset
            bufferUsed = Int(size) / layout.pageSize * layout.pageSize
            if bufferUsed > 0 { return true }
        }
        return false
    }

    @inline(__always)
    private func load32(_ at: Int) -> UInt32 {
        let v = (base + at).loadUnaligned(as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: v) : UInt32(littleEndian: v)
    }

    @inline(__always)
    private func load64(_ at: Int) -> UInt64 {
        let v = (base + at).loadUnaligned(as: UInt64.self)
        return bigEndian ? UInt64(bigEndian: v) : UInt64(littleEndian: v)
    }

    @inline(__always)
    private func loadLong(_ at: Int, size: Int) -> UInt64 {
        size == 8 ? load64(at) : UInt64(load32(at))
    }

    private enum Opened {
        case end
        /// A lost marker when the kernel flagged dropped events before the page.
        case page(Item?)
    }

    private func openPage() throws(TraceReadError) -> Opened {
        if pageEnd + layout.pageSize > bufferUsed {
            guard try refill() else { return .end }
        } else {
            pageStart = pageEnd
        }
        pageEnd = pageStart + layout.pageSize
        pageFileOffset = compressed ? batchFileOffset : batchFileOffset + UInt64(pageStart)
        timestamp = load64(pageStart + layout.timestampOffset)
        let commit = loadLong(pageStart + layout.commitOffset, size: layout.commitSize)
        let size = Int(commit & PageLayout.commitMask)
        let capacity = layout.pageSize - layout.dataOffset
        guard size <= capacity else {
            throw corrupt("the page claims \(size) bytes of data, but a page holds \(capacity)")
        }
        position = pageStart + layout.dataOffset
        dataEnd = position + size
        guard commit & PageLayout.missedEvents != 0 else { return .page(nil) }
        // The events were lost somewhere between this CPU's last record and this page: the marker
        // goes at the start of that gap, so the analysis treats the whole gap as unknown.
        let lostTime = min(lastRecordTime ?? timestamp, timestamp)
        if commit & PageLayout.missedStored != 0, size + layout.commitSize <= capacity {
            return .page(.lost(count: loadLong(dataEnd, size: layout.commitSize), time: lostTime))
        }
        return .page(.lost(count: nil, time: lostTime))
    }

    /// The next record when it is a data record of 1 to 28 words inside the current page (the
    /// header holds its length), which is nearly every record; nil for anything else (a new page,
    /// padding, a time extend, a long record, damage), which `next()` then reads from the same place.
    @inline(__always)
    func nextSmallRecord() -> (start: Int, length: Int, time: UInt64)? {
        guard position + 4 <= dataEnd else { return nil }
        let header = load32(position)
        let length = Int(header & 31) * 4
        guard length >= 4, length <= 28 * 4, length <= dataEnd - position - 4 else { return nil }
        timestamp &+= UInt64(header >> 5)
        let start = position + 4
        position = start + length
        noteRecordTime()
        return (start, length, timestamp)
    }

    /// The next record or lost marker of this CPU, in the order the kernel wrote them.
    func next() throws(TraceReadError) -> Item? {
        while true {
            if position >= dataEnd {
                switch try openPage() {
                case .end:
                    guard truncated, !reportedEnd, let lastRecordTime else { return nil }
                    reportedEnd = true
                    return .dataCut(time: lastRecordTime)
                case .page(let lost?): return lost
                case .page(nil): continue
                }
            }
            guard position + 4 <= dataEnd else {
                throw corrupt("a record header at page byte \(position - pageStart) runs past the page's data")
            }
            let header = load32(position)
            let typeLength = header & 31
            let delta = UInt64(header >> 5)
            switch typeLength {
            case 29:
                // Padding. A zero delta marks the unused rest of the page; otherwise it is a
                // discarded event whose length is in array[0] and whose delta still counts.
                if delta == 0 { position = dataEnd; continue }
                guard position + 8 <= dataEnd else { throw corrupt("a padding record runs past the page's data") }
                let length = Int(load32(position + 4))
                guard length <= dataEnd - position - 4 else { throw corrupt("a padding record of \(length) bytes runs past the page's data") }
                timestamp &+= delta
                position += 4 + length
            case 30:
                guard position + 8 <= dataEnd else { throw corrupt("a time extend runs past the page's data") }
                timestamp &+= (UInt64(load32(position + 4)) << 27) + delta
                position += 8
            case 31:
                // An absolute timestamp lacks the top 5 bits; they carry over from the page's time.
                guard position + 8 <= dataEnd else { throw corrupt("an absolute timestamp runs past the page's data") }
                timestamp = ((UInt64(load32(position + 4)) << 27) | delta) | (timestamp & Self.absoluteTimestampMSB)
                position += 8
            case 0:
                guard position + 8 <= dataEnd else { throw corrupt("a long record header runs past the page's data") }
                let stored = Int(load32(position + 4))
                guard stored >= 4 else { throw corrupt("a record length of \(stored) bytes") }
                let length = (stored - 4 + 3) & ~3
                guard length <= dataEnd - position - 8 else {
                    throw corrupt("a record of \(length) bytes at page byte \(position - pageStart) runs past the page's data")
                }
                timestamp &+= delta
                let start = position + 8
                position = start + length
                noteRecordTime()
                return .record(start: start, length: stored - 4, time: timestamp)
            default:
                // A data record of 1-28 words: the same reading as the inline path's.
                if let record = nextSmallRecord() {
                    return .record(start: record.start, length: record.length, time: record.time)
                }
                throw corrupt("a record of \(Int(typeLength) * 4) bytes at page byte \(position - pageStart) runs past the page's data")
            }
        }
    }

    @inline(__always) private func noteRecordTime() {
        lastRecordTime = timestamp
        if timestamp < latestRecordTime { lateRecords &+= 1 } else { latestRecordTime = timestamp }
    }

    /// The bytes of a record `next()` returned; valid until the next call.
    @inline(__always)
    func recordBytes(start: Int, length: Int) -> RecordBytes {
        RecordBytes(base: base + start, count: length, bigEndian: bigEndian)
    }

    /// The file offset of the page being decoded, for diagnostics.
    var currentPageOffset: UInt64 { pageFileOffset }
}
