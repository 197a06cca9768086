import ArgumentParser
import HVTaxKVM
import HVTaxModel
import HVTaxRender

/// `hvtax probe`: times each kind of VM exit with hvtax's own tiny guest on /dev/kvm.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Measure what one VM exit of each kind costs on this host, with hvtax's own guest.",
        discussion: """
            CPUID and VMCALL/VMMCALL are timed inside the guest with RDTSC (kvm-unit-tests' method, plus \
            per-iteration samples for percentiles); port I/O, MMIO and HLT round trips to userspace are timed \
            both inside the guest and around KVM_RUN on the host; a plain guest loop is the native baseline, \
            and the host's own CPUID and null syscall give the scale. The report states the world KVM runs in \
            (hardware VMX/SVM or an emulating KVM) and compares with published figures.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @Option(name: .customLong("pin"), help: ArgumentHelp(
        "Also run with the vCPU thread pinned to this CPU, and show it beside the unpinned run.", valueName: "CPU"))
    var pinCPU: Int?

    @Option(help: "Individually timed iterations per kind (percentiles and histograms come from these).")
    var samples: Int = 5000

    @Option(help: "Slices the samples are taken in, all kinds interleaved, so slow drifts of the host hit every kind alike.")
    var rounds: Int = 10

    @Option(help: ArgumentHelp(
        "kvm-unit-tests loops double their iterations until one lasts this many TSC cycles (2^26 by default; "
            + "kvm-unit-tests uses 2^30, see --long).", valueName: "cycles"))
    var minLoopCycles: UInt64 = 1 << 26

    @Flag(help: "Use kvm-unit-tests' own loop length (2^30 cycles) and 20000 samples per kind: slower, steadier.")
    var long = false

    @Flag(help: "Print each measurement's full histogram in the text report.")
    var histograms = false

    @Option(help: "The KVM device to open.")
    var device: String = "/dev/kvm"

    func validate() throws {
        if samples < 10 { throw ValidationError("--samples must be at least 10 (percentiles need a few samples).") }
        if samples > Probe.maximumSamples {
            throw ValidationError("--samples can be at most \(Probe.maximumSamples): the guest stores them in its 2 MB.")
        }
        if rounds < 1 { throw ValidationError("--rounds must be at least 1.") }
        if minLoopCycles > Probe.maximumLoopCycles {
            throw ValidationError("--min-loop-cycles can be at most \(Probe.maximumLoopCycles) (2^40, minutes a loop).")
        }
        if let pinCPU, pinCPU < 0 { throw ValidationError("--pin takes a CPU number (0, 1, ...).") }
    }

    func run() throws {
        let options = Probe.Options(
            samplesPerKind: long ? max(samples, 20_000) : samples, rounds: rounds,
            minimumLoopCycles: long ? max(minLoopCycles, 1 << 30) : minLoopCycles,
            pinCPU: pinCPU, devicePath: device)
        let report: ProbeReport
        do {
            report = try Probe.run(options)
        } catch {
            throw CommandFailure("hvtax probe: \(error)")
        }
        switch format {
        case .text: print(ProbeReportRenderer.text(report, histograms: histograms), terminator: "")
        case .json: print(try ProbeReportRenderer.json(report), terminator: "")
        }
    }
}
