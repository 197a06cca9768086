import HVTaxModel
import HVTaxTrace

/// Imports Hyper-V perfmon and VMware esxtop captures (PDH-CSV) into a `CaptureReport`.
///
/// One pass over the file, one row in memory at a time: the header is parsed once into a plan of
/// which columns feed which figures, then each row's used cells are parsed in place and folded into
/// fixed-size accumulators. Memory depends on the number of columns, not on the number of samples.
public enum CaptureImporter {
    /// How many leading bytes `detect(prefix:)` wants to see.
    public static let detectionPrefixBytes = 4096

    /// Whether the first bytes of a file are a PDH-CSV capture, and whose: `.pdhCSV` when the
    /// prefix ends before any counter tells (an esxtop header runs to megabytes). nil: not PDH-CSV.
    public static func detect(prefix: [UInt8]) -> CaptureKind? {
        var bytes = prefix[...]
        // Windows tools may write UTF-16: recognised here so the importer can say so clearly.
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            let ascii = bytes.dropFirst(2).filter { $0 != 0 }
            return ascii.starts(with: Array("\"(PDH-CSV".utf8)) || ascii.starts(with: Array("(PDH-CSV".utf8)) ? .pdhCSV : nil
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        // typeperf writes a blank line before the header when it prints to a console.
        while let first = bytes.first, first == 0x0D || first == 0x0A || first == 0x20 { bytes = bytes.dropFirst() }
        guard bytes.starts(with: Array("\"(PDH-CSV".utf8)) || bytes.starts(with: Array("(PDH-CSV".utf8)) else {
            // A capture cut from its middle starts with a sample row: claim it, so that the importer
            // can say the header is missing rather than a trace reader finding no events.
            return startsWithSampleRow(bytes) ? .pdhCSV : nil
        }
        let lowered = String(decoding: bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
        if lowered.contains("\\hyper-v hypervisor") { return .hyperV }
        if lowered.contains("\\group cpu(") || lowered.contains("\\vcpu(") { return .esxtop }
        return .pdhCSV
    }

    /// `"09/08/2002 12:35:45.166","...`: a quoted PDH sample time followed by another cell.
    private static func startsWithSampleRow(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.first == PDHCSV.quote else { return false }
        let cell = bytes.dropFirst()
        guard let close = cell.firstIndex(of: PDHCSV.quote), cell[close...].starts(with: [PDHCSV.quote, PDHCSV.comma]) else {
            return false
        }
        let time = Array(cell[..<close])
        return time.withUnsafeBytes { raw in
            raw.baseAddress.map { PDHCSV.localSeconds($0, 0, raw.count) != nil } ?? false
        }
    }

    /// Whether a file is a PDH-CSV capture, from its first bytes.
    public static func detect(path: String) throws -> CaptureKind? {
        let reader = try LineReader(path: path, chunkBytes: detectionPrefixBytes)
        return detect(prefix: try reader.peek(detectionPrefixBytes))
    }

    /// Reads a capture. Throws `TraceReadError` naming the file, line and what was expected when the
    /// file is not a PDH-CSV capture of Hyper-V or esxtop CPU counters; rows it cannot use are
    /// counted in the report's quality section instead.
    public static func importFile(path: String, thresholds: CaptureThresholds = .standard,
                                  generator: String = "hvtax") throws -> CaptureReport {
        let reader = try LineReader(path: path)
        let head = try reader.peek(4)
        if head.starts(with: [0xFF, 0xFE]) || head.starts(with: [0xFE, 0xFF]) {
            throw TraceReadError(file: path, location: "byte offset 0",
                                 problem: "UTF-16 text: hvtax reads PDH-CSV as UTF-8 or ASCII; convert it first (iconv -f UTF-16 -t UTF-8)")
        }
        let (preamble, headerCells, headerLine) = try readHeader(reader, path: path)
        let columns = headerCells.dropFirst().map(CounterPath.parse)
        guard !columns.isEmpty else {
            throw TraceReadError(file: path, location: "line \(headerLine)",
                                 problem: "the PDH-CSV header has no counter columns after its first cell")
        }
        let kind: CaptureKind
        var layout: CaptureLayout
        if HyperVMapper.matches(columns) {
            kind = .hyperV
            layout = HyperVMapper.layout(columns: columns)
        } else if EsxtopMapper.matches(columns) {
            kind = .esxtop
            layout = EsxtopMapper.layout(columns: columns)
        } else {
            throw TraceReadError(file: path, location: "line \(headerLine)", problem: noKnownCounters(columns))
        }
        if layout.plan.seriesCount == 0, !layout.quality.unknownCounters.isEmpty {
            let sample = layout.quality.unknownCounters.prefix(4).joined(separator: ", ")
            throw TraceReadError(
                file: path, location: "line \(headerLine)",
                problem: "the \(kind == .hyperV ? "Hyper-V" : "esxtop") counter sets are there, but none of their counters has a name hvtax knows (\(sample), ...): a localized Windows writes translated counter names; capture with English counter names")
        }

        var rows = RowReader(path: path, columnCount: columns.count, plan: layout.plan)
        try rows.read(reader, quality: &layout.quality)

        var quality = layout.quality
        if rows.samples == 0 { quality.note("The capture has a header but no sample rows: every figure is empty.") }
        let bias = preamble.biasMinutes.map { Double($0 * 60) }
        var interval: Double?
        if let first = rows.firstLocalSeconds, let last = rows.lastLocalSeconds, rows.samples > 1, last > first {
            interval = (last - first) / Double(rows.samples - 1)
        }
        let source = CaptureSource(
            path: path, kind: kind, format: preamble.format, timeZone: preamble.timeZone,
            biasMinutes: preamble.biasMinutes, bytes: reader.bytesRead, columns: columns.count,
            columnsUsed: layout.plan.slotColumns.count, samples: rows.samples,
            firstSampleUTCSeconds: bias.flatMap { bias in rows.firstLocalSeconds.map { $0 + bias } },
            lastSampleUTCSeconds: bias.flatMap { bias in rows.lastLocalSeconds.map { $0 + bias } },
            firstSampleLocal: rows.firstLocalSeconds.map(PDHCSV.formatLocal),
            lastSampleLocal: rows.lastLocalSeconds.map(PDHCSV.formatLocal),
            intervalSeconds: interval)
        let rater = CaptureRater(kind: kind, thresholds: thresholds, stats: rows.stats)
        return CaptureReport(generator: generator, source: source, thresholds: thresholds, figures: layout.figures,
                             hosts: layout.hosts.map(rater.host), quality: quality)
    }

    /// The first non-blank line, which must be the PDH-CSV header.
    private static func readHeader(_ reader: LineReader, path: String) throws
        -> (PDHCSV.Preamble, [String], UInt64) {
        while let raw = try reader.nextLine() {
            var line = raw
            if reader.lineNumber == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) {
                line = UnsafeRawBufferPointer(rebasing: line[3...])
            }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let location = "line \(reader.lineNumber)"
            let cells: [String]
            do {
                cells = try PDHCSV.cells(line)
            } catch {
                throw TraceReadError(file: path, location: location, problem: "expected a PDH-CSV header: \(error.problem)")
            }
            let first = cells.first ?? ""
            guard let preamble = PDHCSV.preamble(first) else {
                let shown = String(first.prefix(60))
                let isSample = first.utf8.withContiguousStorageIfAvailable { bytes in
                    PDHCSV.localSeconds(UnsafeRawPointer(bytes.baseAddress!), 0, bytes.count) != nil
                } ?? false
                if isSample {
                    throw TraceReadError(
                        file: path, location: location,
                        problem: "expected the PDH-CSV header, found a sample row (\"\(shown)\"): the file starts in the middle of a capture, and without the header's counter paths its columns cannot be named")
                }
                throw TraceReadError(
                    file: path, location: location,
                    problem: "expected a PDH-CSV header whose first cell is like \"(PDH-CSV 4.0) (UTC)(0)\", found \"\(shown)\"")
            }
            return (preamble, cells, reader.lineNumber)
        }
        throw TraceReadError(file: path, location: "line 1", problem: "empty file: expected a PDH-CSV header")
    }

    /// The message for a PDH-CSV file with none of the counters hvtax reads, naming what it has.
    static func noKnownCounters(_ columns: [CounterPath?]) -> String {
        var objects: [String] = []
        var seen: Set<String> = []
        for path in columns {
            guard let path, seen.insert(path.objectKey).inserted else { continue }
            objects.append(path.object)
        }
        var problem = "none of the counters hvtax reads: expected the Hyper-V Hypervisor Logical Processor, Virtual Processor or Root Virtual Processor sets, or esxtop's Group Cpu and Vcpu; found \(objects.prefix(8).joined(separator: ", "))\(objects.count > 8 ? ", ..." : "")"
        if objects.isEmpty { problem = "none of the header's cells is a counter path \\\\HOST\\Object(Instance)\\Counter" }
        if let translated = objects.first(where: { $0.lowercased().contains("hyper-v") }) {
            problem += ". \"\(translated)\" looks like a Hyper-V counter set under a translated name: a localized Windows writes counter names in its language; capture on an English install, or with English counter paths"
        }
        return problem
    }
}

/// The sample rows: each row's used cells parsed in place into slots, folded into the series.
struct RowReader {
    let path: String
    let columnCount: Int
    let plan: SeriesPlan
    /// Header column -> slot, -1 for columns no figure reads.
    private var columnSlot: [Int32]
    private var slots: [Double]
    private(set) var stats: SeriesStats
    private(set) var samples: UInt64 = 0
    private(set) var firstLocalSeconds: Double?
    private(set) var lastLocalSeconds: Double?

    init(path: String, columnCount: Int, plan: SeriesPlan) {
        self.path = path
        self.columnCount = columnCount
        self.plan = plan
        columnSlot = Array(repeating: -1, count: columnCount)
        for (slot, column) in plan.slotColumns.enumerated() { columnSlot[column] = Int32(slot) }
        slots = Array(repeating: .nan, count: max(plan.slotColumns.count, 1))
        stats = SeriesStats(seriesCount: plan.seriesCount)
    }

    mutating func read(_ reader: LineReader, quality: inout CaptureQuality) throws {
        let columnCount = self.columnCount
        while let line = try reader.nextLine() {
            guard let base = line.baseAddress, !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else { continue }
            let first = line[0]
            // typeperf ends console output with "Exiting, please wait..." and the like.
            guard first == PDHCSV.quote || (first &- 0x30) < 10 else {
                quality.otherLines += 1
                continue
            }
            var timestampStart = 0
            var timestampEnd = 0
            var blank: UInt64 = 0
            var invalid: UInt64 = 0
            var firstInvalidColumn = -1
            var extraCells = false
            let cellCount: Int
            do {
                cellCount = try columnSlot.withUnsafeBufferPointer { columnSlot in
                    try slots.withUnsafeMutableBufferPointer { slots in
                        for index in slots.indices { slots[index] = .nan }
                        return try PDHCSV.scanCells(line) { column, start, end in
                            if column == 0 {
                                timestampStart = start
                                timestampEnd = end
                                return
                            }
                            let counter = column - 1
                            guard counter < columnCount else {
                                extraCells = true
                                return
                            }
                            let slot = Int(columnSlot[counter])
                            guard slot >= 0 else { return }
                            switch PDHCSV.number(base, start, end) {
                            case .value(let value): slots[slot] = value
                            case .blank: blank += 1
                            case .invalid:
                                invalid += 1
                                if firstInvalidColumn < 0 { firstInvalidColumn = column }
                            }
                        }
                    }
                }
            } catch let error as PDHCSV.ScanError {
                if reader.lastLineUnterminated {
                    quality.truncated = true
                } else {
                    quality.malformedRows += 1
                    quality.example(file: path, line: reader.lineNumber, problem: error.problem)
                }
                continue
            }
            // Only the cell scan throws; the buffer closures merely pass its error on.
            catch { throw error }
            if reader.lastLineUnterminated && cellCount < columnCount + 1 {
                // The capture was copied while esxtop or typeperf was still writing it.
                quality.truncated = true
                continue
            }
            if extraCells {
                quality.malformedRows += 1
                quality.example(file: path, line: reader.lineNumber,
                                problem: "\(cellCount) cells, but the header has \(columnCount + 1)")
                continue
            }
            guard let seconds = PDHCSV.localSeconds(base, timestampStart, timestampEnd) else {
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[timestampStart..<timestampEnd]), as: UTF8.self)
                quality.malformedRows += 1
                quality.example(file: path, line: reader.lineNumber,
                                problem: "expected a sample time like 09/08/2002 12:35:45.166 in the first cell, found \"\(text.prefix(40))\"")
                continue
            }
            if cellCount < columnCount + 1 { quality.shortRows += 1 }
            quality.blankCells += blank
            if invalid > 0 {
                quality.malformedCells += invalid
                quality.example(file: path, line: reader.lineNumber,
                                problem: "\(invalid) cells are not numbers (first in column \(firstInvalidColumn + 1)); used as blank")
            }
            slots.withUnsafeBufferPointer { stats.add(row: $0, plan: plan) }
            samples += 1
            if firstLocalSeconds == nil { firstLocalSeconds = seconds }
            lastLocalSeconds = seconds
        }
    }
}
