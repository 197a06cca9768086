import HVTaxAnalysis
import HVTaxEvents
import HVTaxFiles
import HVTaxModel
import SystemPackage

/// Streams every vCPU's timeline to a file in the Chrome trace-event JSON format, which the
/// Perfetto UI (ui.perfetto.dev) and chrome://tracing open: one `X` (complete) slice per stretch of
/// a vCPU in one state, on the vCPU thread's track (pid = VM pid, tid = vCPU tid), named by the exit
/// reason inside exit windows and by the state elsewhere, with `args.state` and `args.reason`.
///
/// Memory stays constant: one pending slice per vCPU (consecutive intervals of the same state and
/// reason are merged into it) and a 1 MiB output buffer. Times are microseconds from the start of
/// the analysed window, printed with three decimals so nanoseconds survive exactly.
///
/// Long traces make files too large for a browser (about 120 bytes per slice: 1.2 GB for a
/// 10-million-event trace). With `minimumSlice`, runs of consecutive shorter slices are written as
/// one `mixed` slice whose args hold the exact nanoseconds of each state: the tracks still tile
/// the vCPU's time, the totals stay exact, only the detail below that duration goes.
public final class PerfettoTraceWriter: TimelineSink {
    private let symbols: SymbolTable
    /// nil: standard output.
    private let file: OutputFile?
    private var buffer: [UInt8] = []
    private var origin: UInt64?
    private var pending: [Int32: Slice] = [:]
    /// Each thread's last identity, to name the tracks of threads the report does not list.
    private var threads: [Int32: TimelineVCPU] = [:]
    private var reasonNames: [[UInt8]?] = []
    private var wroteEvent = false
    private var failure: OutputFileError?
    private var finished = false
    /// `X` slices written so far (after merging).
    public private(set) var slices: UInt64 = 0
    /// Slices shorter than this (trace units) are batched into `mixed` slices; 0 keeps every one.
    public let minimumSlice: UInt64
    private var batches: [Int32: Batch] = [:]

    /// Consecutive short slices of one vCPU, written as one.
    private struct Batch {
        var first: Slice
        var end: UInt64
        var split = TimeSplit()
        var count = 0
    }

    private struct Slice {
        var vcpu: TimelineVCPU
        var state: VCPUState
        var reason: UInt32?
        var start: UInt64
        var end: UInt64
    }

    /// - Parameters:
    ///   - path: the file to write (replaced), or `-` for standard output
    ///   - symbols: the pipeline's symbol table, to name exit reasons
    public init(path: String, symbols: SymbolTable, generator: String = "hvtax", minimumSlice: UInt64 = 0) throws {
        self.symbols = symbols
        self.minimumSlice = minimumSlice
        // Opened before the analysis, so a path that cannot be written is said at once.
        file = path == "-" ? nil : try OutputFile(path: path)
        buffer.reserveCapacity(Self.flushSize + 4096)
        append("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":")
        appendJSONString(generator)
        append("},\"traceEvents\":[\n")
    }

    private static let flushSize = 1 << 20

    public func begin(at start: UInt64) { origin = start }

    public func interval(vcpu: TimelineVCPU, state: VCPUState, start: UInt64, end: UInt64, exitReason: UInt32?) {
        guard end > start else { return }
        if var slice = pending[vcpu.tid] {
            if slice.end == start && slice.state == state && slice.reason == exitReason {
                slice.end = end
                slice.vcpu = vcpu
                pending[vcpu.tid] = slice
                return
            }
            emit(slice)
        } else {
            threads[vcpu.tid] = vcpu
        }
        pending[vcpu.tid] = Slice(vcpu: vcpu, state: state, reason: exitReason, start: start, end: end)
    }

    /// Writes the open slices, names the processes and threads (VM names and vCPU ids from the
    /// report when given), closes the JSON and the file. Throws the first write error met.
    public func finish(report: TraceReport? = nil) throws {
        guard !finished else { return }
        for tid in pending.keys.sorted() {
            if let slice = pending[tid] {
                threads[tid] = slice.vcpu
                emit(slice)
            }
        }
        pending.removeAll()
        for tid in batches.keys.sorted() { flushBatch(tid) }
        writeMetadata(report)
        append("\n]}\n")
        flush()
        finished = true
        if let failure { throw failure }
        try file?.commit()
    }

    // MARK: - Events

    private func emit(_ slice: Slice) {
        guard minimumSlice > 0 else { return write(slice) }
        let tid = slice.vcpu.tid
        let duration = slice.end - slice.start
        if duration >= minimumSlice {
            flushBatch(tid)
            return write(slice)
        }
        var batch = batches[tid] ?? Batch(first: slice, end: slice.start)
        batch.end = slice.end
        batch.split[slice.state] += duration
        batch.count += 1
        if batch.end - batch.first.start >= minimumSlice {
            batches[tid] = batch
            flushBatch(tid)
        } else {
            batches[tid] = batch
        }
    }

    private func flushBatch(_ tid: Int32) {
        guard let batch = batches.removeValue(forKey: tid) else { return }
        if batch.count == 1 { return write(batch.first) }
        let origin = self.origin ?? batch.first.start
        beginEvent()
        append("{\"ph\":\"X\",\"pid\":")
        appendInteger(Int64(pid(of: batch.first.vcpu)))
        append(",\"tid\":")
        appendInteger(Int64(tid))
        append(",\"ts\":")
        appendMicroseconds(batch.first.start >= origin ? batch.first.start - origin : 0)
        append(",\"dur\":")
        appendMicroseconds(batch.end - batch.first.start)
        append(",\"name\":\"mixed\",\"cat\":\"mixed\",\"args\":{\"state\":\"mixed\",\"slices\":")
        appendInteger(Int64(batch.count))
        for state in VCPUState.allCases where batch.split[state] > 0 {
            append(",\"\(state.rawValue)Ns\":")
            appendInteger(Int64(batch.split[state]))
        }
        append("}}")
        slices += 1
        if buffer.count >= Self.flushSize { flush() }
    }

    private func write(_ slice: Slice) {
        let origin = self.origin ?? slice.start
        beginEvent()
        append("{\"ph\":\"X\",\"pid\":")
        appendInteger(Int64(pid(of: slice.vcpu)))
        append(",\"tid\":")
        appendInteger(Int64(slice.vcpu.tid))
        append(",\"ts\":")
        appendMicroseconds(slice.start >= origin ? slice.start - origin : 0)
        append(",\"dur\":")
        appendMicroseconds(slice.end - slice.start)
        append(",\"name\":")
        let reason = slice.reason.map(reasonName)
        if let reason { buffer.append(contentsOf: reason) } else { appendJSONString(slice.state.rawValue) }
        append(",\"cat\":\"")
        append(slice.state.rawValue)
        append("\",\"args\":{\"state\":\"")
        append(slice.state.rawValue)
        append("\"")
        if let reason {
            append(",\"reason\":")
            buffer.append(contentsOf: reason)
        }
        append("}}")
        slices += 1
        if buffer.count >= Self.flushSize { flush() }
    }

    /// Without process ids (perf script without pid), every vCPU is its own process.
    private func pid(of vcpu: TimelineVCPU) -> Int32 { vcpu.pid >= 0 ? vcpu.pid : vcpu.tid }

    private func writeMetadata(_ report: TraceReport?) {
        var named = Set<Int32>()
        var namedProcesses = Set<Int32>()
        for (vmIndex, vm) in (report?.vms ?? []).enumerated() {
            for vcpu in vm.vcpus {
                guard let seen = threads[vcpu.tid] else { continue }
                let pid = pid(of: seen)
                if namedProcesses.insert(pid).inserted {
                    metadata("process_name", pid: pid, tid: nil, args: "{\"name\":\(jsonString("VM " + vm.name))}")
                    metadata("process_sort_index", pid: pid, tid: nil, args: "{\"sort_index\":\(vmIndex)}")
                }
                let label = (vcpu.vcpu.map { "vCPU \($0)" } ?? "vCPU ?") + (vcpu.thread.isEmpty ? "" : " (\(vcpu.thread))")
                metadata("thread_name", pid: pid, tid: vcpu.tid, args: "{\"name\":\(jsonString(label))}")
                metadata("thread_sort_index", pid: pid, tid: vcpu.tid, args: "{\"sort_index\":\(vcpu.vcpu ?? Int32.max)}")
                named.insert(vcpu.tid)
            }
        }
        // Threads outside the report (filtered out of it) still get readable tracks.
        for tid in threads.keys.sorted() where !named.contains(tid) {
            let seen = threads[tid]!
            let pid = pid(of: seen)
            if namedProcesses.insert(pid).inserted {
                metadata("process_name", pid: pid, tid: nil, args: "{\"name\":\(jsonString("VM pid \(pid)"))}")
            }
            let label = seen.vcpu >= 0 ? "vCPU \(seen.vcpu) (tid \(tid))" : "vCPU thread \(tid)"
            metadata("thread_name", pid: pid, tid: tid, args: "{\"name\":\(jsonString(label))}")
        }
    }

    private func metadata(_ name: String, pid: Int32, tid: Int32?, args: String) {
        beginEvent()
        append("{\"ph\":\"M\",\"name\":\"\(name)\",\"pid\":\(pid)")
        if let tid { append(",\"tid\":\(tid)") }
        append(",\"args\":\(args)}")
    }

    private func beginEvent() {
        if wroteEvent { append(",\n") }
        wroteEvent = true
    }

    private func reasonName(_ symbol: UInt32) -> [UInt8] {
        let index = Int(symbol)
        if index >= reasonNames.count { reasonNames += repeatElement(nil, count: index + 1 - reasonNames.count) }
        if let cached = reasonNames[index] { return cached }
        let name = symbols.reasons.string(symbol)
        let encoded = Array(jsonString(name.isEmpty ? "exit" : name).utf8)
        reasonNames[index] = encoded
        return encoded
    }

    // MARK: - Bytes

    private func flush() {
        guard !buffer.isEmpty else { return }
        if failure == nil {
            do throws(OutputFileError) {
                if let file {
                    try file.write(buffer)
                } else {
                    do { _ = try buffer.withUnsafeBytes { try FileDescriptor.standardOutput.writeAll($0) } } catch let code as Errno {
                        throw OutputFileError(path: "standard output", errno: code.rawValue)
                    } catch {
                        throw OutputFileError(path: "standard output", problem: "\(error)")
                    }
                }
            } catch {
                failure = error
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func append(_ text: String) {
        var text = text
        text.withUTF8 { buffer.append(contentsOf: $0) }
    }

    private func appendJSONString(_ text: String) { append(jsonString(text)) }

    private func appendInteger(_ value: Int64) {
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        appendDigits(value.magnitude, minimumWidth: 1)
    }

    /// Nanoseconds as microseconds with three decimals: 1234567 -> `1234.567`.
    private func appendMicroseconds(_ nanoseconds: UInt64) {
        appendDigits(nanoseconds / 1000, minimumWidth: 1)
        buffer.append(UInt8(ascii: "."))
        appendDigits(nanoseconds % 1000, minimumWidth: 3)
    }

    private func appendDigits(_ value: UInt64, minimumWidth: Int) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { bytes in
            repeat {
                bytes[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0 || count < minimumWidth
            buffer.append(contentsOf: bytes[(20 - count)...])
        }
    }
}

/// A JSON string literal, quotes included.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
