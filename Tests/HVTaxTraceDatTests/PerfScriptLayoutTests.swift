import Foundation
import Testing
import HVTaxModel
import HVTaxPipeline
import HVTaxTrace

/// perf script prints what `-F` and its options ask for. The ground truth is a real perf.data
/// recorded here (sched_switch of a shell that sleeps 300 times) and printed by Debian's perf.
@Suite("perf script's layouts")
struct PerfScriptLayoutTests {
    /// A perf.data of real sched_switch events, or nil when perf could not record here. perf is
    /// started with a clean signal mask (`Child`): with the test runner's mask it never sees its
    /// child's SIGCHLD and waits for ever.
    static func record(_ perf: String, in directory: String) -> String? {
        let data = directory + "/perf.data"
        guard let child = Child.spawn(perf, ["record", "-q", "-a", "-e", "sched:sched_switch", "-o", data, "--",
                                             "/bin/sh", "-c", "i=0; while [ $i -lt 300 ]; do sleep 0.001; i=$((i+1)); done"]),
              child.wait() == 0 else { return nil }
        return data
    }

    /// `perf script` with `options`, written to `text`.
    static func script(_ perf: String, _ data: String, _ options: [String], to text: String) {
        let status = Child.spawn(perf, ["script", "-i", data] + options, stdoutPath: text)?.wait()
        #expect(status == 0, "perf script \(options)")
    }

    func report(_ perf: String, _ data: String, _ options: [String], _ text: String) throws -> TraceReport {
        Self.script(perf, data, options, to: text)
        return try TraceReportPipeline.run(paths: [text])
    }

    @Test("the period column, --deltatime and a layout without the CPU")
    func layouts() throws {
        let directory = FileManager.default.temporaryDirectory.path + "/hvtax-perf-layouts-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard let perf = which("perf"), let data = Self.record(perf, in: directory) else {
            print("skipped: perf record did not run here (apt-get install linux-perf; needs root or perf_event_paranoid <= -1 for -a)")
            return
        }
        let plain = try report(perf, data, [], directory + "/plain.txt")
        #expect(plain.quality.malformedLines == 0)
        let switches = try #require(plain.quality.eventsByKind["sched_switch"])
        #expect(switches >= 300, "a shell sleeping 300 times switches out at least 300 times")
        let steppingBack = "earlier than the event before them on the same CPU"
        #expect(!plain.quality.notes.contains { $0.contains(steppingBack) })

        // `-F ...,period,...` puts the sample period between the time and the event name: it was
        // read as the event's name, and every line was malformed.
        let period = try report(perf, data, ["-F", "comm,tid,cpu,time,period,event,trace"], directory + "/period.txt")
        #expect(period.quality.malformedLines == 0)
        #expect(period.quality.eventsByKind == plain.quality.eventsByKind)
        #expect(period.host == plain.host)

        // --deltatime prints each event's time as the gap since the one before: no bad line, and
        // a report of nonsense. It is said.
        let delta = try report(perf, data, ["--deltatime"], directory + "/delta.txt")
        #expect(delta.quality.malformedLines == 0)
        #expect(delta.quality.notes.contains { $0.contains(steppingBack) && $0.contains("--deltatime") })
        // --reltime keeps each event's own time, from the first: fine.
        let relative = try report(perf, data, ["--reltime"], directory + "/reltime.txt")
        #expect(!relative.quality.notes.contains { $0.contains(steppingBack) })

        // Without the cpu field the lines cannot be read; the error says which field to keep.
        let noCPU = directory + "/nocpu.txt"
        Self.script(perf, data, ["-F", "comm,tid,time,event,trace"], to: noCPU)
        #expect {
            _ = try TraceReportPipeline.run(paths: [noCPU])
        } throws: { error in
            "\(error)".contains("nocpu.txt: line 1: not a text trace: expected a CPU column like '[001]' (perf script: keep cpu in -F)")
        }
    }
}
