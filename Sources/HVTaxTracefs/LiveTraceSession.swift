#if canImport(Glibc)
import Glibc
#endif
import HVTaxTrace

/// A recording that never ends into a file: hvtax's own tracefs instance with the selected events
/// on, drained on demand into an in-memory trace.dat of the pages read since the last drain. The
/// pages are the kernel's own, and the metadata (header_page, each event's format, thread names and
/// thread groups) is what `hvtax record` writes, so the trace.dat reader decodes them with the same
/// code as a recorded file. `hvtax serve`'s tracing collector calls `drain()` once per interval.
public final class LiveTraceSession {
    public let instance: TracefsInstance
    /// The selected events this kernel has (`system/event`), and those it lacks.
    public let events: [String]
    public let missingEvents: [String]
    public let staleInstancesRemoved: [String]
    public let bufferKB: Int
    private let tracefs: Tracefs
    private let pipes: RawPagePipes

    /// Creates the instance, enables the events and starts tracing. On any error the instance is
    /// removed before the error is thrown.
    public init(events selection: EventSelection, bufferKB: Int) throws(RecordError) {
        let tracefs: Tracefs
        let stale: [TracefsInstance.Stale]
        let instance: TracefsInstance
        do {
            tracefs = try Tracefs.locate()
            stale = try TracefsInstance.cleanStale(in: tracefs)
            instance = try TracefsInstance(tracefs: tracefs)
        } catch { throw .tracefs(error) }
        let (present, missing) = selection.resolve(eventsDirectory: instance.file("events"))
        // Closed before the instance is removed on an error: rmdir fails while a pipe is open.
        var opened: RawPagePipes?
        do {
            guard !present.isEmpty else { throw RecordError.noEvents(missing) }
            try instance.write("tracing_on", "0")
            try instance.write("buffer_size_kb", String(bufferKB))
            for event in present { try instance.enable(event: event) }
            opened = try RawPagePipes(instance: instance, pageSize: Recorder.pageSize(instance: instance, tracefs: tracefs))
            try instance.write("tracing_on", "1")
        } catch let error as RecordError {
            opened?.closeAll()
            try? instance.remove()
            throw error
        } catch let error as TracefsError {
            opened?.closeAll()
            try? instance.remove()
            throw .tracefs(error)
        } catch {
            opened?.closeAll()
            try? instance.remove()
            throw .tracefs(TracefsError(path: instance.path, action: "start tracing", problem: "\(error)"))
        }
        guard let opened else { throw .tracefs(TracefsError(path: instance.path, action: "start tracing", problem: "no per-CPU pipes")) }
        pipes = opened
        self.tracefs = tracefs
        self.instance = instance
        staleInstancesRemoved = stale.map(\.name)
        events = present
        missingEvents = missing
        self.bufferKB = bufferKB
    }

    /// What one drain read.
    public struct Drained: Sendable {
        /// A trace.dat (version 6) holding every page read, or nil when the kernel had none.
        public var traceDat: [UInt8]?
        public var pages: Int
        /// Events the kernel overwrote or refused so far (all CPUs' `stats`: overrun, commit
        /// overrun, dropped events): the buffer was too small for the interval.
        public var lostSoFar: UInt64
    }

    /// Reads every page the kernel has ready and wraps them into a trace.dat in memory.
    public func drain() throws(RecordError) -> Drained {
        var pages = pipes.cpus.map { _ in [UInt8]() }
        var count = 0
        do {
            try pipes.drain { index, page, _ in
                pages[index].append(contentsOf: page)
                count += 1
            }
        } catch let error as TracefsError {
            throw .tracefs(error)
        } catch {
            throw .tracefs(TracefsError(path: instance.path, action: "read trace_pipe_raw", problem: "\(error)"))
        }
        var lost: UInt64 = 0
        for cpu in pipes.cpus {
            var stats = CPURecordStats(cpu: cpu)
            stats.parse((try? instance.read("per_cpu/cpu\(cpu)/stats")) ?? "")
            lost += stats.lost
        }
        guard count > 0 else { return Drained(traceDat: nil, pages: 0, lostSoFar: lost) }
        do {
            let meta = try Recorder.metadata(instance: instance, tracefs: tracefs, pageSize: pipes.pageSize, present: events)
            let output = TraceDatOutput()
            try TraceDatWriter.write(meta, cpus: pages.map { .bytes($0) }, version: .v6, to: output)
            return Drained(traceDat: output.bytes, pages: count, lostSoFar: lost)
        } catch let error as TracefsError {
            throw .tracefs(error)
        } catch let error as TraceDatWriteError {
            throw .write(error)
        } catch {
            throw .tracefs(TracefsError(path: instance.path, action: "describe the trace", problem: "\(error)"))
        }
    }

    /// Stops tracing, closes the pipes and removes the instance; safe to call more than once.
    public func stop() throws(TracefsError) {
        try? instance.write("tracing_on", "0")
        pipes.closeAll()
        try instance.remove()
    }

    deinit { try? stop() }
}
