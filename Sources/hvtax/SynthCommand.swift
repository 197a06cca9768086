import ArgumentParser
import Foundation
import HVTaxFiles
import HVTaxModel
import HVTaxRender
import HVTaxSynth
import SystemPackage

/// `hvtax synth`: a synthetic trace with known ground truth, to check an analysis pipeline (ours or
/// another tool's) and to benchmark on traces of any size.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic KVM trace whose true time split and exits are known.",
        discussion: """
            Several VMs and vCPUs on their own CPUs: guest runs, exits handled in the kernel, through the \
            VMM (kvm_userspace_exit) and interrupt-induced, preemption (sched_switch R+), halts (S) and \
            lost events. --truth writes what really happened as JSON.
            """)

    @Option(help: "About how many events to write.")
    var events = 100_000
    @Option(help: "Number of VMs.")
    var vms = 3
    @Option(name: .customLong("vcpus-per-vm"), help: "vCPUs per VM.")
    var vcpusPerVM = 2
    @Option(help: "Random seed: the same seed gives the same trace.")
    var seed: UInt64 = 1
    @Option(help: "Probability that an exit window is lost (with a LOST marker).")
    var loss = 0.002
    @Option(help: "Trace format: ftrace (kernel print format with record-tgid) or perf (perf script).")
    var format: TraceSynthesizer.Configuration.Format = .ftrace
    @Option(help: "Exit reason names: vmx (Intel) or svm (AMD).")
    var isa: ISA = .vmx
    @Option(name: .shortAndLong, help: "Output file ('-' for stdout).")
    var output = "-"
    @Option(help: "Write the ground truth as JSON to this file.")
    var truth: String?
    @Option(name: .customLong("handler-scale"), help: "Multiply the exit handlers' on-CPU time (longer latencies, for hvtax compare).")
    var handlerScale = 1.0

    func validate() throws {
        if let problem = configuration.problem { throw ValidationError(problem) }
    }

    func run() throws {
        // Both files are opened before generating: a path that cannot be written is said at once,
        // and neither appears under its name before it is whole.
        let file = output == "-" ? nil : try OutputFile(path: output)
        let truthFile = try truth.map { try OutputFile(path: $0) }
        let result = try TraceSynthesizer(configuration).generate { bytes in
            if let file {
                try file.write(bytes)
            } else {
                _ = try FileDescriptor.standardOutput.writeAll(bytes)
            }
        }
        try file?.commit()
        if let truthFile {
            try truthFile.write(JSONRendering.render(result))
            try truthFile.commit()
        }
    }

    private var configuration: TraceSynthesizer.Configuration {
        var configuration = TraceSynthesizer.Configuration()
        configuration.events = events
        configuration.vms = vms
        configuration.vcpusPerVM = vcpusPerVM
        configuration.seed = seed
        configuration.lossProbability = loss
        configuration.format = format
        configuration.isa = isa
        configuration.handlerScale = handlerScale
        return configuration
    }
}

extension TraceSynthesizer.Configuration.Format: ExpressibleByArgument {}
extension ISA: ExpressibleByArgument {}
