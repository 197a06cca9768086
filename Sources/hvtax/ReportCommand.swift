import ArgumentParser
import Foundation
import HVTaxAdvice
import HVTaxAnalysis
import HVTaxPipeline
import HVTaxEvents
import HVTaxExport
import HVTaxFiles
import HVTaxModel
import HVTaxRender
import HVTaxTrace

#if canImport(Glibc)
import Glibc
#endif

/// `hvtax report TRACE...`: a trace in, the overhead report out.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Split every vCPU's time into guest, hypervisor, VMM, preempted and halted, and explain the exits.",
        discussion: """
            Reads raw ftrace output (trace, trace_pipe), trace-cmd report output (kernel, plugin and -R raw \
            formats) and perf script output of kvm:*, sched:* and irq:* events; gzip or zstd compressed \
            or not; '-' for stdin; trace-cmd trace.dat files (v6, v7 uncompressed, zlib or zstd), such as \
            `hvtax record` writes; LTTng babeltrace2 text, and CTF directories (through babeltrace2). \
            Several files are merged by timestamp. The format is recognised from the content. \
            A Hyper-V perfmon or esxtop capture (PDH-CSV) is imported instead: see hvtax import.

            Record a useful trace with, for example:
              echo 1 > /sys/kernel/tracing/options/record-tgid
              perf record -e kvm:kvm_exit -e kvm:kvm_entry -e kvm:kvm_userspace_exit -e sched:sched_switch -a
            """)

    @Argument(help: "Trace files ('-' for stdin).")
    var traces: [String]

    @OptionGroup var output: OutputOptions
    @OptionGroup var thresholds: ThresholdOptions

    @Option(help: ArgumentHelp("Only these VMs (name or pid); repeatable.", valueName: "name|pid"))
    var vm: [String] = []

    @Option(help: "Only the VM with this pid, or the vCPU thread with this tid; repeatable.")
    var pid: [Int32] = []

    @Option(help: "Only this vcpu id; repeatable.")
    var vcpu: [Int32] = []

    @Option(help: ArgumentHelp("Only this exit reason in the exit tables (the time split is unchanged); repeatable.", valueName: "reason"))
    var reason: [String] = []

    @Option(help: ArgumentHelp("Start of the window, from the first event: 1.5s, 200ms, 30us.", valueName: "duration"))
    var since: DurationArgument?

    @Option(help: ArgumentHelp("End of the window, from the first event.", valueName: "duration"))
    var until: DurationArgument?

    @Option(name: .customLong("vm-name"), help: ArgumentHelp("Name a VM by its pid: 1234=web01; repeatable.", valueName: "pid=name"))
    var vmNames: [VMNameArgument] = []

    @Option(name: .customLong("counter-hz"), help: "Frequency of a raw counter clock (x86-tsc), to report nanoseconds.")
    var counterHz: UInt64?

    @Option(help: ArgumentHelp("Also write the report as one self-contained HTML page with charts.", valueName: "file"))
    var html: String?

    @Option(help: ArgumentHelp("Also write every vCPU's timeline as Chrome trace-event JSON (Perfetto UI, chrome://tracing).", valueName: "file"))
    var perfetto: String?

    @Option(name: .customLong("perfetto-min-slice"), help: ArgumentHelp("Write runs of slices shorter than this as one 'mixed' slice with exact per-state times (smaller files for long traces).", valueName: "duration"))
    var perfettoMinSlice: DurationArgument?

    @Option(name: .customLong("time-bucket"), help: ArgumentHelp("Width of a 'tax over time' bucket in the HTML page (it doubles to stay within 600 buckets).", valueName: "duration"))
    var timeBucket: DurationArgument?

    func validate() throws {
        // An empty window would give a report of nothing ("0 events over 0 ns") that looks valid.
        if let since, let until, until.nanoseconds <= since.nanoseconds {
            throw ValidationError("--until must be later than --since: both count from the trace's first event")
        }
        // 0 Hz used to pass as if the option were absent; no counter runs at 0 Hz.
        if counterHz == 0 { throw ValidationError("--counter-hz must be above 0 (the counter clock's ticks per second)") }
    }

    func run() throws {
        if let capture = try ImportCommand.capture(among: traces) {
            guard vm.isEmpty, pid.isEmpty, vcpu.isEmpty, reason.isEmpty, since == nil, until == nil else {
                throw ValidationError("--vm, --pid, --vcpu, --reason, --since and --until apply to KVM traces, not to a PDH-CSV capture")
            }
            try ImportCommand.report(capture, output: output, thresholds: thresholds)
            return
        }
        var filters = ReportFilters()
        filters.vms = vm
        filters.pids = pid
        filters.vcpus = vcpu
        filters.reasons = reason
        filters.since = since?.nanoseconds
        filters.until = until?.nanoseconds
        let options = AnalysisOptions(thresholds: try thresholds.thresholds(), filters: filters,
                                      vmNames: Dictionary(vmNames.map { ($0.pid, $0.name) }, uniquingKeysWith: { $1 }))
        // A TraceReadError says which file, where and what was expected; ArgumentParser prints it as is.
        let generator = "hvtax \(HVTaxVersion.string)"
        let symbols = SymbolTable()
        var sinks: [TimelineSink] = []
        // Output files are opened before the analysis: a path that cannot be written is said at once.
        let page = try html.map { try OutputFile(path: $0) }
        let timeline = try perfetto.map { try PerfettoTraceWriter(path: $0, symbols: symbols, generator: generator,
                                                                   minimumSlice: perfettoMinSlice?.nanoseconds ?? 0) }
        if let timeline { sinks.append(timeline) }
        if html != nil || timeBucket != nil {
            sinks.append(TimeSeriesSink(initialWidth: timeBucket?.nanoseconds ?? 1_000_000))
        }
        var report = try TraceReportPipeline.run(paths: traces, options: options,
                                                 inputOptions: .init(counterHz: counterHz),
                                                 generator: generator, sinks: sinks, symbols: symbols)
        report.advice = try Advisor.standard().advise(report)
        try timeline?.finish(report: report)
        if let page {
            try page.write(HTMLReportRenderer().render(report))
            try page.commit()
        }
        try output.write(report)
    }
}
