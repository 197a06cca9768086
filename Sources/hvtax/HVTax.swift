import ArgumentParser

/// The `hvtax` command: each subcommand is one type in its own file, and only parses arguments
/// and wires library stages together.
@main
struct HVTax: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hvtax",
        abstract: "Measure the hypervisor tax: what virtualization costs the workloads on a KVM host, and why.",
        version: HVTaxVersion.string,
        subcommands: [
            ReportCommand.self, CompareCommand.self, ImportCommand.self, SynthCommand.self, DoctorCommand.self,
            SnapshotCommand.self, TopCommand.self, ValidateCommand.self, RecordCommand.self, ConvertCommand.self, ProbeCommand.self,
            WorkloadCommand.self, ServeCommand.self, HistoryCommand.self, SNMPPassCommand.self,
        ])
}

enum HVTaxVersion {
    static let string = "0.1.0"
}
