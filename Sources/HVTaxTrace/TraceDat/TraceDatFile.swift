/// The metadata of a trace.dat (versions 6 and 7): everything except the ring-buffer pages, which
/// `TraceDatReader` decodes lazily. Parsing follows `man 5 trace-cmd.dat.v6` / `trace-cmd.dat.v7`.
public final class TraceDatFile {
    /// The 10 bytes every trace.dat starts with: `\x17\x08\x44tracing`.
    public static let magic: [UInt8] = [0x17, 0x08, 0x44] + Array("tracing".utf8)

    public struct CPUData: Sendable, Equatable {
        public var cpu: Int
        public var offset: UInt64
        public var size: UInt64
    }

    /// The `GUEST` option: which host thread runs each vCPU of a traced guest.
    public struct Guest: Sendable, Equatable {
        public var name: String
        public var traceID: UInt64
        public var vcpuThreads: [(vcpu: Int32, tid: Int32)]
        public init(name: String, traceID: UInt64, vcpuThreads: [(vcpu: Int32, tid: Int32)]) {
            self.name = name
            self.traceID = traceID
            self.vcpuThreads = vcpuThreads
        }
        public static func == (a: Guest, b: Guest) -> Bool {
            a.name == b.name && a.traceID == b.traceID
                && a.vcpuThreads.elementsEqual(b.vcpuThreads) { $0.vcpu == $1.vcpu && $0.tid == $1.tid }
        }
    }

    /// The `TIME_SHIFT` option of a guest file: per guest CPU, samples of (guest time, offset to
    /// the host clock, scaling, fraction bits).
    public struct TimeShift: Sendable, Equatable {
        public struct Sample: Sendable, Equatable {
            public var time: Int64
            public var offset: Int64
            public var scaling: Int64
            public var fraction: Int64
            public init(time: Int64, offset: Int64, scaling: Int64, fraction: Int64) {
                self.time = time
                self.offset = offset
                self.scaling = scaling
                self.fraction = fraction
            }
        }
        public var peerTraceID: UInt64
        public var flags: UInt32
        public var cpus: [[Sample]]
        public init(peerTraceID: UInt64, flags: UInt32, cpus: [[Sample]]) {
            self.peerTraceID = peerTraceID
            self.flags = flags
            self.cpus = cpus
        }
    }

    /// The `TSC2NSEC` option: ns = (ticks * mult) >> shift.
    public struct TSC2NSec: Sendable, Equatable {
        public var mult: UInt32
        public var shift: UInt32
        public var offset: UInt64
        public init(mult: UInt32, shift: UInt32, offset: UInt64) {
            self.mult = mult
            self.shift = shift
            self.offset = offset
        }
    }

    public let path: String
    public let version: Int
    public let bigEndian: Bool
    /// The traced userspace's `long` size (the kernel's is in header_page's `commit` field).
    public let longSize: Int
    public private(set) var pageSize: Int
    public let compression: TraceDatCompression
    public private(set) var headerPage = EventFormat(system: "header_page", name: "header_page", id: -1, fields: [], printFormat: "")
    public private(set) var formats: [EventFormat] = []
    /// pid -> command name from the saved command lines.
    public private(set) var commands: [Int32: String] = [:]
    public private(set) var cpuData: [CPUData] = []
    /// In v7, the ring-buffer data of each CPU is a list of compressed chunks.
    public private(set) var cpuDataCompressed = false
    public private(set) var clock = "local"
    public private(set) var tsc2nsec: TSC2NSec?
    public private(set) var guests: [Guest] = []
    public private(set) var timeShift: TimeShift?
    public private(set) var traceID: UInt64?
    /// The `per_cpu/cpuN/stats` texts the recorder stored (CPUSTAT options).
    public private(set) var cpuStats: [String] = []
    public private(set) var uname: String?
    public private(set) var cpuCount: Int?
    /// tid -> tgid, from hvtax's thread-group option (files `hvtax record` wrote).
    public private(set) var threadGroups: [Int32: Int32] = [:]
    /// Instances other than the one read, named so the user knows they were not.
    public private(set) var otherInstances: [String] = []
    /// CPUs whose trace data the file ends inside or before: a recording cut short (killed while
    /// writing, a full disk). What is there is read; the rest of each is a gap of unknown size.
    public private(set) var truncatedCPUs: [Truncation] = []
    public private(set) var notes: [String] = []

    /// One CPU's trace data that the file ends inside or before.
    public struct Truncation: Sendable, Equatable {
        public var cpu: Int
        /// Where the data starts and how long the file's header says it is.
        public var offset: UInt64
        public var declaredBytes: UInt64
        /// How much of it the file holds.
        public var presentBytes: UInt64
    }

    let source: TraceDatBytes

    public convenience init(path: String) throws(TraceReadError) {
        try self.init(source: TraceDatBytes(path: path))
    }

    public convenience init(bytes: [UInt8], name: String) throws(TraceReadError) {
        try self.init(source: TraceDatBytes(bytes: bytes, name: name))
    }

    init(source: TraceDatBytes) throws(TraceReadError) {
        self.source = source
        path = source.name
        var cursor = SourceCursor(source: source, offset: 0, bigEndian: false, section: "initial format")
        guard source.size >= 10 else {
            throw cursor.error("the file has \(source.size) bytes, too short for a trace.dat header")
        }
        let magic = try cursor.bytes(10, "magic")
        guard magic == Self.magic else {
            throw cursor.error("not a trace.dat: the file does not start with \\x17\\x08\\x44tracing", at: 0)
        }
        let versionText = try cursor.cString("version", limit: 16)
        guard let version = Int(versionText) else {
            throw cursor.error("the version \"\(versionText)\" is not a number", at: 10)
        }
        guard version == 6 || version == 7 else {
            throw cursor.error("unsupported trace.dat version \(version) (hvtax reads versions 6 and 7)", at: 10)
        }
        self.version = version
        let endianOffset = cursor.offset
        let endian = try cursor.u16("endianness and long size")
        bigEndian = (endian & 0xff) == 1
        longSize = Int(endian >> 8)
        guard endian & 0xff <= 1, longSize == 4 || longSize == 8 else {
            throw cursor.error("endianness \(endian & 0xff) / long size \(endian >> 8) are not 0|1 / 4|8", at: endianOffset)
        }
        cursor = SourceCursor(source: source, offset: cursor.offset, bigEndian: bigEndian, section: "initial format")
        let pageSizeOffset = cursor.offset
        let pageSize = try cursor.u32("page size")
        guard pageSize >= 64, pageSize <= 1 << 24, pageSize.nonzeroBitCount == 1 else {
            throw cursor.error("page size \(pageSize) is not a power of two between 64 and 16 MiB", at: pageSizeOffset)
        }
        self.pageSize = Int(pageSize)
        if version >= 7 {
            let name = try cursor.cString("compression name", limit: 64)
            _ = try cursor.cString("compression version", limit: 64)
            guard let compression = TraceDatCompression(name: name) else {
                throw cursor.error("unknown compression \"\(name)\" (hvtax reads none, zlib and zstd)")
            }
            self.compression = compression
            let optionsOffset = try cursor.u64("offset of the first options section")
            try readSections(firstOptions: optionsOffset)
        } else {
            compression = .none
            try readVersion6(&cursor)
        }
        try validateCPUData()
    }

    // MARK: version 6: one sequential header

    private func readVersion6(_ cursor: inout SourceCursor) throws(TraceReadError) {
        cursor.section = "header info"
        try readHeaderInfo(&cursor)
        cursor.section = "ftrace event formats"
        try readFtraceFormats(&cursor)
        cursor.section = "event formats"
        try readEventFormats(&cursor)
        cursor.section = "kallsyms"
        try cursor.skip(UInt64(try cursor.u32("kallsyms size")), "kallsyms")
        cursor.section = "printk formats"
        try cursor.skip(UInt64(try cursor.u32("printk formats size")), "printk formats")
        cursor.section = "command lines"
        try readCommandLines(&cursor)
        cursor.section = "cpus"
        let cpus = try cursor.u32("cpu count")
        guard UInt64(cpus) * 16 <= cursor.remaining else {
            throw cursor.error("\(cpus) CPUs cannot fit in the rest of the file")
        }
        cursor.section = "options"
        var kind = try cursor.bytes(10, "options/flyrecord marker")
        var hasClockText = false
        if kind.starts(with: Array("options".utf8)) {
            while true {
                let id = try cursor.u16("option id")
                if id == 0 { break }
                let size = try cursor.u32("option size")
                let data = try cursor.bytes(UInt64(size), "option \(id)")
                if id == OptionID.traceClock { hasClockText = true }
                try handleOption(id: id, data: data, at: cursor.offset - UInt64(size))
            }
            kind = try cursor.bytes(10, "latency/flyrecord marker")
        }
        if kind.starts(with: Array("latency".utf8)) {
            throw cursor.error("a latency-tracer trace.dat holds text, not events; hvtax reads flyrecord files")
        }
        guard kind.starts(with: Array("flyrecord".utf8)) else {
            throw cursor.error("expected \"flyrecord\" or \"latency\" after the options")
        }
        cursor.section = "flyrecord"
        for cpu in 0..<Int(cpus) {
            let offset = try cursor.u64("cpu \(cpu) data offset")
            let size = try cursor.u64("cpu \(cpu) data size")
            cpuData.append(CPUData(cpu: cpu, offset: offset, size: size))
        }
        if hasClockText { try readClockText(&cursor) }
        // `trace-cmd extract -B NAME` leaves the top buffer empty and puts the instance in a BUFFER
        // option: read the first instance with data when the top buffer has none.
        if cpuData.allSatisfy({ $0.size == 0 }), let instance = version6Instances.first {
            var table = SourceCursor(source: source, offset: instance.offset, bigEndian: bigEndian, section: "instance \(instance.name)")
            try table.expect("flyrecord\0", "\"flyrecord\" of instance \(instance.name)")
            cpuData = []
            for cpu in 0..<Int(cpus) {
                let offset = try table.u64("cpu \(cpu) data offset")
                let size = try table.u64("cpu \(cpu) data size")
                cpuData.append(CPUData(cpu: cpu, offset: offset, size: size))
            }
            if hasClockText { try readClockText(&table) }
            notes.append("read the trace of instance '\(instance.name)'")
            otherInstances = version6Instances.dropFirst().map(\.name)
        } else {
            otherInstances = version6Instances.map(\.name)
        }
    }

    private func readClockText(_ cursor: inout SourceCursor) throws(TraceReadError) {
        cursor.section = "trace clock"
        let size = try cursor.u64("trace clock size")
        guard size <= 4096 else { throw cursor.error("a trace clock text of \(size) bytes") }
        parseClock(String(decoding: try cursor.bytes(size, "trace clock"), as: UTF8.self))
    }

    // MARK: version 7: sections found through options

    private enum SectionID {
        static let options: UInt16 = 0
        static let buffer: UInt16 = 3
        static let strings: UInt16 = 15
        static let headerInfo: UInt16 = 16
        static let ftraceEvents: UInt16 = 17
        static let eventFormats: UInt16 = 18
        static let kallsyms: UInt16 = 19
        static let printk: UInt16 = 20
        static let cmdlines: UInt16 = 21
    }

    enum OptionID {
        static let done: UInt16 = 0
        static let date: UInt16 = 1
        static let cpuStat: UInt16 = 2
        static let buffer: UInt16 = 3
        static let traceClock: UInt16 = 4
        static let uname: UInt16 = 5
        static let hook: UInt16 = 6
        static let offset: UInt16 = 7
        static let cpuCount: UInt16 = 8
        static let version: UInt16 = 9
        static let procMaps: UInt16 = 10
        static let traceID: UInt16 = 11
        static let timeShift: UInt16 = 12
        static let guest: UInt16 = 13
        static let tsc2nsec: UInt16 = 14
        static let bufferText: UInt16 = 22
        /// hvtax's own: "tid tgid" lines. Far above trace-cmd's ids, which it skips as unknown.
        static let hvtaxThreadGroups: UInt16 = 0x4856
    }

    private var sectionOffsets: [(id: UInt16, offset: UInt64)] = []
    /// v6 BUFFER options: instances whose "flyrecord" CPU table sits at `offset`.
    private var version6Instances: [(name: String, offset: UInt64)] = []
    private var buffers: [(name: String, clock: String, pageSize: UInt32, offset: UInt64, cpus: [CPUData])] = []

    private func readSections(firstOptions: UInt64) throws(TraceReadError) {
        var next = firstOptions
        var visited = Set<UInt64>()
        while next != 0 {
            // A loop of DONE offsets would never end; each options section is read once.
            guard visited.insert(next).inserted else {
                throw TraceReadError(file: path, location: "section 'options', byte offset \(next)",
                                     problem: "the options sections form a loop")
            }
            var cursor = try openSection(at: next, expected: SectionID.options, name: "options")
            next = 0
            while true {
                let id = try cursor.u16("option id")
                let size = try cursor.u32("option size")
                let dataOffset = cursor.offset
                let data = try cursor.bytes(UInt64(size), "option \(id)")
                if id == OptionID.done {
                    var done = ByteCursor(bytes: data, bigEndian: bigEndian, file: path, section: "options", fileOffset: nil)
                    next = try done.u64("next options offset")
                    break
                }
                try handleOption(id: id, data: data, at: dataOffset)
            }
        }
        for (id, offset) in sectionOffsets {
            switch id {
            case SectionID.headerInfo:
                var cursor = try openSection(at: offset, expected: id, name: "header info")
                try readHeaderInfo(&cursor)
            case SectionID.ftraceEvents:
                var cursor = try openSection(at: offset, expected: id, name: "ftrace event formats")
                try readFtraceFormats(&cursor)
            case SectionID.eventFormats:
                var cursor = try openSection(at: offset, expected: id, name: "event formats")
                try readEventFormats(&cursor)
            case SectionID.cmdlines:
                var cursor = try openSection(at: offset, expected: id, name: "command lines")
                try readCommandLines(&cursor)
            default:
                break
            }
        }
        guard !headerPage.fields.isEmpty else {
            throw TraceReadError(file: path, location: "options", problem: "no HEADER_INFO section: the ring-buffer page format is unknown")
        }
        // The top buffer, unless it is empty and an instance has data (`trace-cmd extract -B`).
        let hasData = { (buffer: (name: String, clock: String, pageSize: UInt32, offset: UInt64, cpus: [CPUData])) in
            buffer.cpus.contains { $0.size > 0 }
        }
        let top = buffers.first { $0.name.isEmpty }
        let chosen = (top.map(hasData) ?? false) ? top : (buffers.first(where: hasData) ?? top ?? buffers.first)
        guard let chosen else {
            throw TraceReadError(file: path, location: "options", problem: "no BUFFER option: the file holds no trace data")
        }
        otherInstances = buffers.filter { $0.offset != chosen.offset && hasData($0) }.map { $0.name.isEmpty ? "(top)" : $0.name }
        if !chosen.name.isEmpty { notes.append("read the trace of instance '\(chosen.name)'") }
        parseClock("[\(chosen.clock)]")
        if chosen.pageSize != 0 {
            guard chosen.pageSize >= 64, chosen.pageSize <= 1 << 24, chosen.pageSize.nonzeroBitCount == 1 else {
                throw TraceReadError(file: path, location: "option BUFFER", problem: "page size \(chosen.pageSize) is not a power of two between 64 and 16 MiB")
            }
            pageSize = Int(chosen.pageSize)
        }
        // The flyrecord section's header says whether the CPU data is compressed in chunks.
        var header = SourceCursor(source: source, offset: chosen.offset, bigEndian: bigEndian, section: "buffer flyrecord")
        let id = try header.u16("section id")
        let flags = try header.u16("section flags")
        guard id == SectionID.buffer else {
            throw header.error("the BUFFER option points to a section with id \(id), not 3", at: chosen.offset)
        }
        cpuDataCompressed = flags & 1 != 0
        if cpuDataCompressed && compression == .none {
            throw header.error("a compressed flyrecord section in a file whose compression is \"none\"", at: chosen.offset)
        }
        cpuData = chosen.cpus
    }

    /// Opens a section: checks its header and returns a cursor over its (decompressed) content.
    private func openSection(at offset: UInt64, expected: UInt16, name: String) throws(TraceReadError) -> SourceCursor {
        var cursor = SourceCursor(source: source, offset: offset, bigEndian: bigEndian, section: name)
        // A v7 file says where its trace data is in an options section written after that data: a
        // file cut short loses it, and with it every CPU's data (unlike v6, read as far as it goes).
        guard offset < source.size else {
            throw cursor.error("the section starts past the end of the file (\(source.size) bytes): the file is truncated, "
                + "and the \(name) it would hold (in a v7 file, where each CPU's trace data lies) are lost", at: offset)
        }
        let id = try cursor.u16("section id")
        let flags = try cursor.u16("section flags")
        _ = try cursor.u32("section description")
        let size = try cursor.u64("section size")
        guard id == expected else {
            throw cursor.error("expected section id \(expected) (\(name)), found \(id)", at: offset)
        }
        guard size <= cursor.remaining else {
            throw cursor.error("the section claims \(size) bytes, the file has \(cursor.remaining) left", at: offset + 8)
        }
        guard flags & 1 != 0 else { return cursor }
        guard compression != .none else {
            throw cursor.error("a compressed section in a file whose compression is \"none\"", at: offset + 2)
        }
        let blockOffset = cursor.offset
        let compressedSize = try cursor.u32("compressed size")
        let uncompressedSize = try cursor.u32("uncompressed size")
        guard TraceDatCompression.plausible(uncompressed: uncompressedSize, compressed: compressedSize) else {
            throw cursor.error("a block of \(compressedSize) compressed bytes claims \(uncompressedSize) uncompressed bytes", at: blockOffset)
        }
        let compressed = try cursor.bytes(UInt64(compressedSize), "compressed data")
        var output: [UInt8] = []
        if let problem = compressed.withUnsafeBytes({ compression.decompress($0, expectedSize: uncompressedSize, into: &output) }) {
            throw cursor.error("\(compression.name) block: \(problem)", at: blockOffset)
        }
        return SourceCursor(source: TraceDatBytes(bytes: output, name: path), offset: 0, bigEndian: bigEndian,
                            section: name, decompressedFrom: blockOffset)
    }

    // MARK: the parts shared by v6 and v7

    private func readHeaderInfo(_ cursor: inout SourceCursor) throws(TraceReadError) {
        try cursor.expect("header_page\0", "\"header_page\"")
        let pageSize = try cursor.u64("header_page size")
        guard pageSize <= 1 << 20 else { throw cursor.error("a header_page text of \(pageSize) bytes") }
        let pageText = String(decoding: try cursor.bytes(pageSize, "header_page"), as: UTF8.self)
        switch EventFormat.parse(Substring(pageText), system: "header_page") {
        case .success(let format): headerPage = format
        case .failure(let problem): throw cursor.error("header_page line \(problem.line): \(problem.problem)")
        }
        try cursor.expect("header_event\0", "\"header_event\"")
        let eventSize = try cursor.u64("header_event size")
        try cursor.skip(eventSize, "header_event")
    }

    private func readFtraceFormats(_ cursor: inout SourceCursor) throws(TraceReadError) {
        let count = try cursor.u32("ftrace format count")
        guard UInt64(count) * 8 <= cursor.remaining else { throw cursor.error("\(count) ftrace formats cannot fit in the file") }
        for _ in 0..<count { try readFormat(&cursor, system: "ftrace") }
    }

    private func readEventFormats(_ cursor: inout SourceCursor) throws(TraceReadError) {
        let systems = try cursor.u32("event system count")
        guard UInt64(systems) * 5 <= cursor.remaining else { throw cursor.error("\(systems) event systems cannot fit in the file") }
        for _ in 0..<systems {
            let system = try cursor.cString("system name", limit: 256)
            let count = try cursor.u32("event count of system \(system)")
            guard UInt64(count) * 8 <= cursor.remaining else { throw cursor.error("\(count) formats of \(system) cannot fit in the file") }
            for _ in 0..<count { try readFormat(&cursor, system: system) }
        }
    }

    private func readFormat(_ cursor: inout SourceCursor, system: String) throws(TraceReadError) {
        let start = cursor.offset
        let size = try cursor.u64("format size")
        guard size <= 1 << 20 else { throw cursor.error("a format text of \(size) bytes", at: start) }
        let text = String(decoding: try cursor.bytes(size, "format of system \(system)"), as: UTF8.self)
        switch EventFormat.parse(Substring(text), system: system) {
        case .success(let format):
            guard format.id >= 0 else { throw cursor.error("the format of \(system)/\(format.name) has no ID", at: start) }
            formats.append(format)
        case .failure(let problem):
            throw cursor.error("format of \(system), line \(problem.line): \(problem.problem)", at: start)
        }
    }

    private func readCommandLines(_ cursor: inout SourceCursor) throws(TraceReadError) {
        let size = try cursor.u64("command lines size")
        let text = try cursor.bytes(size, "command lines")
        for line in text.split(separator: UInt8(ascii: "\n")) {
            guard let space = line.firstIndex(of: UInt8(ascii: " ")),
                  let pid = Int32(String(decoding: line[line.startIndex..<space], as: UTF8.self)) else { continue }
            commands[pid] = String(decoding: line[(space + 1)...], as: UTF8.self)
        }
    }

    private func handleOption(id: UInt16, data: [UInt8], at offset: UInt64) throws(TraceReadError) {
        var cursor = ByteCursor(bytes: data, bigEndian: bigEndian, file: path, section: "option \(id)", fileOffset: offset)
        func text() -> String { String(decoding: data.prefix { $0 != 0 }, as: UTF8.self) }
        switch id {
        case OptionID.cpuStat: cpuStats.append(text())
        case OptionID.traceClock: if !data.isEmpty { parseClock(text()) }
        case OptionID.uname: uname = text()
        case OptionID.cpuCount: cpuCount = Int(try cursor.u32("cpu count"))
        case OptionID.traceID: traceID = try cursor.u64("trace id")
        case OptionID.tsc2nsec:
            tsc2nsec = TSC2NSec(mult: try cursor.u32("mult"), shift: try cursor.u32("shift"), offset: try cursor.u64("offset"))
            guard tsc2nsec!.shift < 64 else { throw cursor.error("TSC2NSEC shift \(tsc2nsec!.shift) is not below 64") }
        case OptionID.guest:
            cursor = ByteCursor(bytes: data, bigEndian: bigEndian, file: path, section: "option GUEST", fileOffset: offset)
            let name = try cursor.cString("guest name")
            let traceID = try cursor.u64("guest trace id")
            let countAt = cursor.position
            let count = try cursor.u32("guest vcpu count")
            guard UInt64(count) * 8 <= UInt64(cursor.remaining) else {
                throw cursor.error("guest \(name): \(count) vCPUs need \(UInt64(count) * 8) bytes, the option has \(cursor.remaining) left", at: countAt)
            }
            var threads: [(Int32, Int32)] = []
            var seen = Set<Int32>()
            for _ in 0..<count {
                let entryAt = cursor.position
                let vcpu = Int32(bitPattern: try cursor.u32("vcpu"))
                let tid = Int32(bitPattern: try cursor.u32("host tid"))
                // trace-cmd indexes its table by the vCPU id, so it must be below the count.
                guard vcpu >= 0, UInt32(vcpu) < count, seen.insert(vcpu).inserted else {
                    throw cursor.error("guest \(name): vCPU id \(vcpu) is not a distinct id below the vCPU count \(count)", at: entryAt)
                }
                guard tid > 0 else { throw cursor.error("guest \(name): vCPU \(vcpu) runs on host thread \(tid), not a thread id", at: entryAt + 4) }
                threads.append((vcpu, tid))
            }
            guests.append(Guest(name: name, traceID: traceID, vcpuThreads: threads))
        case OptionID.timeShift:
            cursor = ByteCursor(bytes: data, bigEndian: bigEndian, file: path, section: "option TIME_SHIFT", fileOffset: offset)
            let peer = try cursor.u64("peer trace id")
            let flags = try cursor.u32("flags")
            let cpusAt = cursor.position
            let cpus = try cursor.u32("cpu count")
            guard UInt64(cpus) * 4 <= UInt64(cursor.remaining) else {
                throw cursor.error("\(cpus) guest CPUs cannot fit in the \(cursor.remaining) bytes left", at: cpusAt)
            }
            var perCPU: [[TimeShift.Sample]] = []
            var totalSamples = 0
            for cpu in 0..<cpus {
                let countAt = cursor.position
                let count = try cursor.u32("sample count of guest cpu \(cpu)")
                guard count > 0 else { throw cursor.error("guest cpu \(cpu) has no time samples", at: countAt) }
                guard UInt64(count) * 24 <= UInt64(cursor.remaining) else {
                    throw cursor.error("guest cpu \(cpu): \(count) samples need \(UInt64(count) * 24) bytes, the option has \(cursor.remaining) left", at: countAt)
                }
                var times: [Int64] = [], offsets: [Int64] = [], scalings: [Int64] = []
                for _ in 0..<count { times.append(Int64(bitPattern: try cursor.u64("time"))) }
                for _ in 0..<count { offsets.append(Int64(bitPattern: try cursor.u64("offset"))) }
                let scalingsAt = cursor.position
                for _ in 0..<count { scalings.append(Int64(bitPattern: try cursor.u64("scaling"))) }
                if let bad = scalings.firstIndex(where: { $0 <= 0 }) {
                    throw cursor.error("guest cpu \(cpu), sample \(bad): scaling \(scalings[bad]) is not positive", at: scalingsAt + bad * 8)
                }
                perCPU.append((0..<Int(count)).map { TimeShift.Sample(time: times[$0], offset: offsets[$0], scaling: scalings[$0], fraction: 0) })
                totalSamples += Int(count)
            }
            // Newer files append the fraction bits of every sample, CPU by CPU.
            if !cursor.atEnd {
                guard cursor.remaining == totalSamples * 8 else {
                    throw cursor.error("\(cursor.remaining) bytes follow the samples; fraction bits for \(totalSamples) samples take \(totalSamples * 8)")
                }
                for cpu in perCPU.indices {
                    for sample in perCPU[cpu].indices {
                        let at = cursor.position
                        let fraction = Int64(bitPattern: try cursor.u64("fraction"))
                        guard fraction >= 0, fraction < 64 else {
                            throw cursor.error("guest cpu \(cpu), sample \(sample): \(fraction) fraction bits (a shift of 0...63 is expected)", at: at)
                        }
                        perCPU[cpu][sample].fraction = fraction
                    }
                }
            }
            timeShift = TimeShift(peerTraceID: peer, flags: flags, cpus: perCPU)
        case OptionID.buffer where version >= 7:
            let offset = try cursor.u64("buffer offset")
            let name = try cursor.cString("instance name")
            let clock = try cursor.cString("clock")
            let pageSize = try cursor.u32("page size")
            let count = try cursor.u32("cpu count")
            try cursor.need(Int(min(count, 1 << 20)) * 20, "cpus")
            var cpus: [CPUData] = []
            for _ in 0..<count {
                let cpu = try cursor.u32("cpu id")
                let offset = try cursor.u64("cpu data offset")
                let size = try cursor.u64("cpu data size")
                guard cpu < 1 << 16 else { throw cursor.error("cpu id \(cpu)") }
                cpus.append(CPUData(cpu: Int(cpu), offset: offset, size: size))
            }
            buffers.append((name, clock, pageSize, offset, cpus))
        case OptionID.buffer:
            let offset = try cursor.u64("buffer offset")
            version6Instances.append((try cursor.cString("instance name"), offset))
        case OptionID.hvtaxThreadGroups:
            for line in text().split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let tid = Int32(parts[0]), let tgid = Int32(parts[1]) { threadGroups[tid] = tgid }
            }
        case 16...21:
            sectionOffsets.append((id, try cursor.u64("section offset")))
        default:
            break
        }
    }

    /// `[local] global counter ...` or a bare name: the selected clock is the bracketed word.
    private func parseClock(_ text: String) {
        if let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") {
            clock = String(text[text.index(after: open)..<close])
        } else {
            let word = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\0" }).first.map(String.init)
            if let word, !word.isEmpty { clock = word }
        }
    }

    /// trace-cmd refuses a file that ends inside its trace data; hvtax reads the whole pages that
    /// are there and marks where each CPU's data stops, so the vCPUs that ran there are unknown
    /// from then on instead of carrying their last state over the gap. (Compressed data is not
    /// read that way: a v7 file cut inside its data has already lost the options section after it
    /// that says where the data is.)
    private func validateCPUData() throws(TraceReadError) {
        for data in cpuData where data.size > 0 {
            guard data.offset <= source.size, data.size <= source.size - data.offset else {
                guard !cpuDataCompressed else {
                    throw TraceReadError(file: path, location: "cpu \(data.cpu) data, byte offset \(data.offset)",
                                         problem: "\(data.size) bytes of compressed trace data run past the end of the file (\(source.size) bytes): truncated")
                }
                let present = data.offset < source.size ? source.size - data.offset : 0
                truncatedCPUs.append(Truncation(cpu: data.cpu, offset: data.offset, declaredBytes: data.size, presentBytes: present))
                continue
            }
            if !cpuDataCompressed && data.size % UInt64(pageSize) != 0 {
                notes.append("cpu \(data.cpu): trace data of \(data.size) bytes is not a whole number of \(pageSize)-byte pages; the last partial page is ignored")
            }
        }
        guard !truncatedCPUs.isEmpty else { return }
        let cut = truncatedCPUs.map { t in
            t.presentBytes == 0 ? "cpu \(t.cpu) has none of its \(t.declaredBytes) bytes (from byte \(t.offset))"
                : "cpu \(t.cpu) has \(t.presentBytes) of its \(t.declaredBytes) bytes (from byte \(t.offset))"
        }
        notes.append("\(path) is truncated: it ends at byte \(source.size), inside the trace data its header describes: "
            + cut.joined(separator: ", ") + ". Every whole page that is there was read; after a CPU's last event its "
            + "vCPUs are unknown (a gap of unknown size in 'lost events'), and events of a CPU with no data at all are "
            + "missing from the figures.")
    }

    /// True when timestamps are raw counter ticks that cannot be turned into nanoseconds.
    public var timestampsAreTicks: Bool {
        let counter = clock == "x86-tsc" || clock == "counter" || clock == "tsc2nsec"
        return counter && tsc2nsec == nil
    }
}
