import ArgumentParser

struct WorkloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workload", abstract: "placeholder")
}
