import ArgumentParser
import Dispatch
import HVTaxKVM
import HVTaxModel
import HVTaxRender
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `hvtax workload`: a VM with a known load, writing its own ground truth.
struct WorkloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workload",
        abstract: "Run a VM whose load is known: vCPUs busy for a duty cycle, exits at chosen rates, truth written as it runs.",
        discussion: """
            Each vCPU thread (named CPU N/KVM, as QEMU names them) runs hvtax's guest busy for duty x period and \
            halted, sleeping on the host, for the rest, and performs the requested exits during the busy part. \
            The published validation experiment (75% for 3 minutes, then 90% for 3 minutes) is:
              hvtax workload --vcpus 1 --schedule 75%:3m,90%:3m --truth truth.jsonl
            The process re-executes itself once with "-name guest=NAME,debug-threads=on" appended, so that \
            discovery sees a VM called NAME in /proc/PID/cmdline. SIGINT and SIGTERM end it cleanly: every vCPU \
            writes its last (incomplete) interval and the truth file gets its end record.
            """)

    @Option(help: "Number of vCPUs, each on its own thread named CPU N/KVM.")
    var vcpus: Int = 1

    @Option(help: "Busy share of each period, e.g. 75%. Ignored when --schedule is given.")
    var duty: String = "75%"

    @Option(help: "Length of one busy+idle cycle, e.g. 100ms.")
    var period: String = "100ms"

    @Option(help: "How long to run at --duty, e.g. 3m, 90s.")
    var duration: String = "3m"

    @Option(help: ArgumentHelp("Exits per second per vCPU, e.g. io:2000/s,mmio:500/s,cpuid:1000/s.",
                               valueName: "kind:rate/s,..."))
    var exits: String?

    @Option(help: ArgumentHelp("Duty steps run one after another, e.g. 75%:3m,90%:3m (replaces --duty/--duration).",
                               valueName: "duty:duration,..."))
    var schedule: String?

    @Option(help: ArgumentHelp("Write the truth as JSON lines to FILE (\"-\" for standard output).", valueName: "FILE"))
    var truth: String?

    @Option(help: "How much time each truth record covers per vCPU (rounded to whole periods).")
    var truthInterval: String = "1s"

    // Unconditional: the value is usually negative, and "-10" must not be taken for an option.
    @Option(parsing: .unconditional, help: ArgumentHelp("Run the vCPU threads at this nice value (-20 to 19; negative needs root), so the "
                               + "duty holds on a host busy with other work.", valueName: "n"))
    var nice: Int32?

    @Option(help: "The VM's name: shows as guest=NAME in the process's command line, and in the truth.")
    var name: String = "hvtax-workload"

    /// Set by the re-execution, as QEMU's `-name guest=NAME,debug-threads=on`; never typed by hand.
    @Option(name: .customLong("name", withSingleDash: true), help: .hidden)
    var vmmIdentity: String?

    @Option(help: "The KVM device to open.")
    var device: String = "/dev/kvm"

    func plan() throws -> WorkloadPlan {
        do throws(WorkloadPlanError) {
            var phases = [WorkloadPhase(duty: try WorkloadSyntax.duty(duty),
                                        durationNs: try WorkloadSyntax.durationNs(duration))]
            if let schedule { phases = try WorkloadSyntax.schedule(schedule) }
            var rates: [WorkloadPlan.ExitKind: Double] = [:]
            if let exits { rates = try WorkloadSyntax.exitRates(exits) }
            let plan = WorkloadPlan(
                vcpus: vcpus, periodNs: try WorkloadSyntax.durationNs(period), phases: phases,
                exitRatesPerSecond: rates,
                truthIntervalNs: try WorkloadSyntax.durationNs(truthInterval), name: name, vcpuNice: nice)
            try plan.validate()
            return plan
        } catch {
            throw ValidationError(error.description)
        }
    }

    func validate() throws {
        guard VMMProcessIdentity.isValidName(name) else {
            throw ValidationError("--name must be 1-64 characters without commas or spaces (QEMU's -name rules).")
        }
        _ = try plan()
    }

    func run() throws {
        let plan = try plan()
        // Once re-executed, -name is set: never exec twice, even if /proc/self/cmdline is unreadable.
        if vmmIdentity == nil && !VMMProcessIdentity.isPresent(name: plan.name) {
            let error = VMMProcessIdentity.reexecute(arguments: CommandLine.arguments, name: plan.name)
            throw CommandFailure("hvtax workload: \(error)")
        }
        // SIGINT/SIGTERM stop the session instead of killing the process mid-record. The handlers go
        // in first; a signal that arrives while the VM is still being set up stops it as it starts.
        let relay = Mutex<(session: WorkloadSession?, reason: String?)>((nil, nil))
        let signals = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")].map { number, label in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                relay.withLock { state in
                    state.reason = state.reason ?? label
                    state.session?.stop(reason: label)
                }
            }
            source.resume()
            return (number, source)
        }
        defer {
            for (number, source) in signals {
                source.cancel()
                signal(number, SIG_DFL)
            }
        }

        let writer: JSONLinesFileWriter?
        do {
            writer = try truth.map { try JSONLinesFileWriter(path: $0) }
        } catch {
            throw CommandFailure("hvtax workload: \(error)")
        }
        let textToStdout = truth != "-"
        let session: WorkloadSession
        do {
            session = try WorkloadSession(plan: plan, devicePath: device) { record in
                if let writer, let line = try? WorkloadTruthRenderer.jsonLine(record) { writer.write(line) }
                if textToStdout, case .start(let start) = record { print(WorkloadTruthRenderer.startText(start)) }
            }
        } catch {
            throw CommandFailure("hvtax workload: \(error)")
        }
        relay.withLock { state in
            state.session = session
            if let reason = state.reason { session.stop(reason: reason) }
        }

        let end: WorkloadTruthEnd
        do {
            end = try session.run()
        } catch {
            throw CommandFailure("hvtax workload: \(error)")
        }
        if textToStdout { print(WorkloadTruthRenderer.endText(end), terminator: "") }
        if let problem = writer?.writeError {
            throw CommandFailure("hvtax workload: the truth file is incomplete: \(problem)")
        }
    }
}
