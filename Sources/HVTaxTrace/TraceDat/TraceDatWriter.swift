#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HVTaxFiles

/// What a trace.dat says about the trace besides the ring-buffer pages: the texts tracefs gives
/// (`events/header_page`, each event's `format`, `saved_cmdlines`) and the options.
public struct TraceDatMetadata: Sendable {
    public var pageSize: Int
    public var bigEndian = false
    public var longSize = 8
    public var headerPage: String
    public var headerEvent: String
    public var ftraceFormats: [String] = []
    public var eventSystems: [(system: String, formats: [String])] = []
    /// `pid comm` lines, as in tracefs's `saved_cmdlines`.
    public var commandLines: String = ""
    public var clock = "local"
    /// One `per_cpu/cpuN/stats` text per CPU (the CPUSTAT options `trace-cmd report --stat` shows).
    public var cpuStats: [String] = []
    public var uname: String?
    public var tsc2nsec: TraceDatFile.TSC2NSec?
    public var traceID: UInt64?
    public var guests: [TraceDatFile.Guest] = []
    public var timeShift: TraceDatFile.TimeShift?
    /// Thread -> process (tgid) of the traced threads, stored in hvtax's own option so the report
    /// can group vCPU threads into VMs (trace.dat has no standard place for tgids).
    public var threadGroups: [(tid: Int32, tgid: Int32)] = []

    public init(pageSize: Int, headerPage: String, headerEvent: String) {
        self.pageSize = pageSize
        self.headerPage = headerPage
        self.headerEvent = headerEvent
    }
}

/// The ring-buffer pages of one CPU, whole pages back to back.
public enum TraceDatCPUPages: Sendable {
    case bytes([UInt8])
    /// A file of pages (the recorder spools each CPU to one while recording).
    case file(path: String)
    /// An open file of pages, read from its start; `name` is for errors (an unnamed temporary
    /// file has no path).
    case descriptor(Int32, name: String)
}

public enum TraceDatVersion: Sendable, Equatable {
    /// Version 6: what every trace-cmd reads.
    case v6
    /// Version 7 with sections, optionally compressed (Debian's trace-cmd 3.1.6 reads none and zstd).
    case v7(TraceDatCompression)
}

/// A trace.dat or spool file that could not be written: its path and why (OutputFile's error, so
/// the output's own errors pass through unchanged).
public typealias TraceDatWriteError = OutputFileError

/// Where a written trace.dat goes: memory or a file. Writes are sequential, with patches of
/// offsets that are only known later.
public final class TraceDatOutput {
    public private(set) var bytes: [UInt8] = []
    public private(set) var offset: UInt64 = 0
    /// nil: the file is built in memory (`bytes`).
    private let file: OutputFile?

    public init() {
        file = nil
    }

    /// The file appears under `path` only when `finish()` has written all of it (OutputFile).
    public init(path: String) throws(TraceDatWriteError) {
        file = try OutputFile(path: path)
    }

    func write(_ data: UnsafeRawBufferPointer) throws(TraceDatWriteError) {
        guard let file else {
            bytes.append(contentsOf: data)
            offset += UInt64(data.count)
            return
        }
        try file.write(data)
        offset += UInt64(data.count)
    }

    func write(_ data: [UInt8]) throws(TraceDatWriteError) {
        // `withUnsafeBytes` rethrows untyped errors; carry the typed one out by hand.
        var failure: TraceDatWriteError?
        data.withUnsafeBytes { raw in
            do throws(TraceDatWriteError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    func pad(toMultipleOf alignment: Int) throws(TraceDatWriteError) {
        let rest = Int(offset % UInt64(alignment))
        if rest != 0 { try write([UInt8](repeating: 0, count: alignment - rest)) }
    }

    func patch(at position: UInt64, _ data: [UInt8]) throws(TraceDatWriteError) {
        guard let file else {
            bytes.replaceSubrange(Int(position)..<Int(position) + data.count, with: data)
            return
        }
        try file.write(data, at: position)
    }

    /// Flushes the file to disk so a reader (or a crash) sees all of it, and puts it in place.
    public func finish() throws(TraceDatWriteError) {
        try file?.commit()
    }
}

/// Little helper that encodes numbers in the file's byte order.
struct ByteWriter {
    var bytes: [UInt8] = []
    let bigEndian: Bool

    mutating func u16(_ v: UInt16) { append(bigEndian ? v.bigEndian : v.littleEndian) }
    mutating func u32(_ v: UInt32) { append(bigEndian ? v.bigEndian : v.littleEndian) }
    mutating func u64(_ v: UInt64) { append(bigEndian ? v.bigEndian : v.littleEndian) }
    mutating func raw(_ text: String) { bytes.append(contentsOf: Array(text.utf8)) }
    mutating func cString(_ text: String) { raw(text); bytes.append(0) }
    mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }
}

/// Writes trace.dat files (v6, or v7 uncompressed/zlib/zstd) in the layout trace-cmd writes, so
/// `trace-cmd report` reads them.
public enum TraceDatWriter {
    /// Pages per compressed chunk: small enough to decompress one at a time with little memory.
    static let pagesPerChunk = 16

    public static func write(_ meta: TraceDatMetadata, cpus: [TraceDatCPUPages], version: TraceDatVersion,
                             to output: TraceDatOutput) throws(TraceDatWriteError) {
        var header = ByteWriter(bigEndian: meta.bigEndian)
        header.raw(TraceDatFile.magic)
        header.cString(version == .v6 ? "6" : "7")
        header.bytes.append(meta.bigEndian ? 1 : 0)
        header.bytes.append(UInt8(meta.longSize))
        header.u32(UInt32(meta.pageSize))
        switch version {
        case .v6:
            try output.write(header.bytes)
            try writeVersion6(meta, cpus: cpus, to: output)
        case .v7(let compression):
            header.cString(compression.name)
            header.cString(compression == .none ? "" : "1")
            try output.write(header.bytes)
            try writeVersion7(meta, cpus: cpus, compression: compression, to: output)
        }
        try output.finish()
    }

    // MARK: the shared parts

    private static func headerInfo(_ meta: TraceDatMetadata) -> ByteWriter {
        var w = ByteWriter(bigEndian: meta.bigEndian)
        w.cString("header_page")
        w.u64(UInt64(meta.headerPage.utf8.count))
        w.raw(meta.headerPage)
        w.cString("header_event")
        w.u64(UInt64(meta.headerEvent.utf8.count))
        w.raw(meta.headerEvent)
        return w
    }

    private static func ftraceFormats(_ meta: TraceDatMetadata) -> ByteWriter {
        var w = ByteWriter(bigEndian: meta.bigEndian)
        w.u32(UInt32(meta.ftraceFormats.count))
        for format in meta.ftraceFormats {
            w.u64(UInt64(format.utf8.count))
            w.raw(format)
        }
        return w
    }

    private static func eventFormats(_ meta: TraceDatMetadata) -> ByteWriter {
        var w = ByteWriter(bigEndian: meta.bigEndian)
        w.u32(UInt32(meta.eventSystems.count))
        for (system, formats) in meta.eventSystems {
            w.cString(system)
            w.u32(UInt32(formats.count))
            for format in formats {
                w.u64(UInt64(format.utf8.count))
                w.raw(format)
            }
        }
        return w
    }

    private static func commandLines(_ meta: TraceDatMetadata) -> ByteWriter {
        var w = ByteWriter(bigEndian: meta.bigEndian)
        w.u64(UInt64(meta.commandLines.utf8.count))
        w.raw(meta.commandLines)
        return w
    }

    /// The options both versions carry (v7 adds section and buffer options around them). The CPU
    /// count is the number of CPUs written, always: trace-cmd reads that many per-CPU data entries,
    /// so a count of its own (a host's CPUs, of which fewer were written) made it read the clock's
    /// text as a CPU's offset and refuse the file.
    private static func commonOptions(_ meta: TraceDatMetadata, cpuCount: Int, into w: inout ByteWriter) {
        func option(_ id: UInt16, _ data: [UInt8]) {
            w.u16(id)
            w.u32(UInt32(data.count))
            w.raw(data)
        }
        func text(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }
        for stats in meta.cpuStats { option(TraceDatFile.OptionID.cpuStat, text(stats)) }
        if let uname = meta.uname { option(TraceDatFile.OptionID.uname, text(uname)) }
        var count = ByteWriter(bigEndian: meta.bigEndian)
        count.u32(UInt32(cpuCount))
        option(TraceDatFile.OptionID.cpuCount, count.bytes)
        if let id = meta.traceID {
            var v = ByteWriter(bigEndian: meta.bigEndian)
            v.u64(id)
            option(TraceDatFile.OptionID.traceID, v.bytes)
        }
        if let t = meta.tsc2nsec {
            var v = ByteWriter(bigEndian: meta.bigEndian)
            v.u32(t.mult)
            v.u32(t.shift)
            v.u64(t.offset)
            option(TraceDatFile.OptionID.tsc2nsec, v.bytes)
        }
        for guest in meta.guests {
            var v = ByteWriter(bigEndian: meta.bigEndian)
            v.cString(guest.name)
            v.u64(guest.traceID)
            v.u32(UInt32(guest.vcpuThreads.count))
            for (vcpu, tid) in guest.vcpuThreads {
                v.u32(UInt32(bitPattern: vcpu))
                v.u32(UInt32(bitPattern: tid))
            }
            option(TraceDatFile.OptionID.guest, v.bytes)
        }
        if !meta.threadGroups.isEmpty {
            let lines = meta.threadGroups.map { "\($0.tid) \($0.tgid)\n" }.joined()
            option(TraceDatFile.OptionID.hvtaxThreadGroups, text(lines))
        }
        if let shift = meta.timeShift {
            var v = ByteWriter(bigEndian: meta.bigEndian)
            v.u64(shift.peerTraceID)
            v.u32(shift.flags)
            v.u32(UInt32(shift.cpus.count))
            for samples in shift.cpus {
                v.u32(UInt32(samples.count))
                for s in samples { v.u64(UInt64(bitPattern: s.time)) }
                for s in samples { v.u64(UInt64(bitPattern: s.offset)) }
                for s in samples { v.u64(UInt64(bitPattern: s.scaling)) }
            }
            for samples in shift.cpus { for s in samples { v.u64(UInt64(bitPattern: s.fraction)) } }
            option(TraceDatFile.OptionID.timeShift, v.bytes)
        }
    }

    private static func size(of pages: TraceDatCPUPages, path: String) throws(TraceDatWriteError) -> UInt64 {
        switch pages {
        case .bytes(let bytes): return UInt64(bytes.count)
        case .file(let file):
            var info = stat()
            guard stat(file, &info) == 0 else { throw TraceDatWriteError(path: file, errno: errno) }
            return UInt64(info.st_size)
        case .descriptor(let fd, let name):
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw TraceDatWriteError(path: name, errno: errno) }
            return UInt64(info.st_size)
        }
    }

    /// Feeds the pages of one CPU in batches of whole pages.
    private static func forEachBatch(_ pages: TraceDatCPUPages, batchBytes: Int,
                                     _ body: ([UInt8]) throws(TraceDatWriteError) -> Void) throws(TraceDatWriteError) {
        switch pages {
        case .bytes(let bytes):
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + batchBytes)
                try body(Array(bytes[start..<end]))
                start = end
            }
        case .file(let path):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw TraceDatWriteError(path: path, errno: errno) }
            defer { close(fd) }
            try forEachBatch(of: fd, name: path, batchBytes: batchBytes, body)
        case .descriptor(let fd, let name):
            try forEachBatch(of: fd, name: name, batchBytes: batchBytes, body)
        }
    }

    /// The whole file from its start (pread: the spool's own offset is at its end).
    private static func forEachBatch(of fd: Int32, name: String, batchBytes: Int,
                                     _ body: ([UInt8]) throws(TraceDatWriteError) -> Void) throws(TraceDatWriteError) {
        var buffer = [UInt8](repeating: 0, count: batchBytes)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, offset) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw TraceDatWriteError(path: name, errno: errno) }
            if n == 0 { break }
            offset += off_t(n)
            try body(Array(buffer[0..<n]))
        }
    }

    // MARK: version 6

    private static func writeVersion6(_ meta: TraceDatMetadata, cpus: [TraceDatCPUPages], to output: TraceDatOutput) throws(TraceDatWriteError) {
        var w = headerInfo(meta)
        w.raw(ftraceFormats(meta).bytes)
        w.raw(eventFormats(meta).bytes)
        w.u32(0)  // kallsyms: hvtax names no kernel functions
        w.u32(0)  // printk formats
        w.raw(commandLines(meta).bytes)
        w.u32(UInt32(cpus.count))
        w.raw("options  ")
        w.bytes.append(0)
        commonOptions(meta, cpuCount: cpus.count, into: &w)
        // TRACECLOCK with no data tells a v6 reader the clock text follows the CPU table.
        w.u16(TraceDatFile.OptionID.traceClock)
        w.u32(0)
        w.u16(0)
        w.raw("flyrecord")
        w.bytes.append(0)
        let tableOffset = output.offset + UInt64(w.bytes.count)
        for _ in cpus { w.u64(0); w.u64(0) }
        let clock = "[\(meta.clock)]"
        w.u64(UInt64(clock.utf8.count))
        w.raw(clock)
        try output.write(w.bytes)
        var table = ByteWriter(bigEndian: meta.bigEndian)
        for pages in cpus {
            try output.pad(toMultipleOf: meta.pageSize)
            let start = output.offset
            try forEachBatch(pages, batchBytes: 64 * meta.pageSize) { (batch) throws(TraceDatWriteError) in try output.write(batch) }
            table.u64(start)
            table.u64(output.offset - start)
        }
        try output.patch(at: tableOffset, table.bytes)
    }

    // MARK: version 7

    private static func section(_ id: UInt16, _ content: [UInt8], compression: TraceDatCompression, bigEndian: Bool) -> [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u16(id)
        if compression == .none {
            w.u16(0)
            w.u32(0)
            w.u64(UInt64(content.count))
            w.raw(content)
        } else {
            let packed = compression.compress(content)
            w.u16(1)
            w.u32(0)
            w.u64(UInt64(packed.count + 8))
            w.u32(UInt32(packed.count))
            w.u32(UInt32(content.count))
            w.raw(packed)
        }
        return w.bytes
    }

    private static func writeVersion7(_ meta: TraceDatMetadata, cpus: [TraceDatCPUPages],
                                      compression: TraceDatCompression, to output: TraceDatOutput) throws(TraceDatWriteError) {
        // The options section goes last, where every offset it names is known; the header's pointer
        // to it is patched at the end.
        let optionsPointer = output.offset
        try output.write([UInt8](repeating: 0, count: 8))
        var empty = ByteWriter(bigEndian: meta.bigEndian)
        empty.u32(0)
        let contents: [(UInt16, [UInt8])] = [
            (16, headerInfo(meta).bytes), (17, ftraceFormats(meta).bytes), (18, eventFormats(meta).bytes),
            (19, empty.bytes), (20, empty.bytes), (21, commandLines(meta).bytes),
        ]
        var sectionOffsets: [(UInt16, UInt64)] = []
        for (id, content) in contents {
            sectionOffsets.append((id, output.offset))
            try output.write(section(id, content, compression: compression, bigEndian: meta.bigEndian))
        }
        // The flyrecord section: a header, then each CPU's pages from a page-aligned offset.
        let bufferOffset = output.offset
        var sectionHeader = ByteWriter(bigEndian: meta.bigEndian)
        sectionHeader.u16(3)
        sectionHeader.u16(compression == .none ? 0 : 1)
        sectionHeader.u32(0)
        sectionHeader.u64(0)
        try output.write(sectionHeader.bytes)
        var cpuTable: [(UInt64, UInt64)] = []
        for pages in cpus {
            try output.pad(toMultipleOf: meta.pageSize)
            let start = output.offset
            if compression == .none {
                try forEachBatch(pages, batchBytes: 64 * meta.pageSize) { (batch) throws(TraceDatWriteError) in try output.write(batch) }
            } else {
                let countOffset = output.offset
                try output.write([0, 0, 0, 0])
                var chunks: UInt32 = 0
                try forEachBatch(pages, batchBytes: pagesPerChunk * meta.pageSize) { (batch) throws(TraceDatWriteError) in
                    var w = ByteWriter(bigEndian: meta.bigEndian)
                    let packed = compression.compress(batch)
                    w.u32(UInt32(packed.count))
                    w.u32(UInt32(batch.count))
                    w.raw(packed)
                    try output.write(w.bytes)
                    chunks += 1
                }
                var count = ByteWriter(bigEndian: meta.bigEndian)
                count.u32(chunks)
                try output.patch(at: countOffset, count.bytes)
            }
            cpuTable.append((start, output.offset - start))
        }
        var sectionSize = ByteWriter(bigEndian: meta.bigEndian)
        sectionSize.u64(output.offset - bufferOffset - 16)
        try output.patch(at: bufferOffset + 8, sectionSize.bytes)

        var options = ByteWriter(bigEndian: meta.bigEndian)
        for (id, offset) in sectionOffsets {
            options.u16(id)
            options.u32(8)
            options.u64(offset)
        }
        commonOptions(meta, cpuCount: cpus.count, into: &options)
        var clock = ByteWriter(bigEndian: meta.bigEndian)
        clock.cString("[\(meta.clock)]")
        options.u16(TraceDatFile.OptionID.traceClock)
        options.u32(UInt32(clock.bytes.count))
        options.raw(clock.bytes)
        var buffer = ByteWriter(bigEndian: meta.bigEndian)
        buffer.u64(bufferOffset)
        buffer.cString("")
        buffer.cString(meta.clock)
        buffer.u32(UInt32(meta.pageSize))
        buffer.u32(UInt32(cpus.count))
        for (cpu, (offset, size)) in cpuTable.enumerated() {
            buffer.u32(UInt32(cpu))
            buffer.u64(offset)
            buffer.u64(size)
        }
        options.u16(TraceDatFile.OptionID.buffer)
        options.u32(UInt32(buffer.bytes.count))
        options.raw(buffer.bytes)
        options.u16(TraceDatFile.OptionID.done)
        options.u32(8)
        options.u64(0)
        let optionsOffset = output.offset
        try output.write(section(0, options.bytes, compression: compression, bigEndian: meta.bigEndian))
        var pointer = ByteWriter(bigEndian: meta.bigEndian)
        pointer.u64(optionsOffset)
        try output.patch(at: optionsPointer, pointer.bytes)
    }
}
