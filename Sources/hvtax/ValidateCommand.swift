import ArgumentParser
import HVTaxAdvice
import Foundation
import HVTaxHost
import HVTaxKVM
import HVTaxModel
import HVTaxRender

/// `hvtax validate`: can the CPU accounting of this host be trusted? Every source side by side over
/// an interval, or, with --experiment, against a load whose truth is known.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Compare every CPU-accounting source per VM (schedstat, stat, guest time, cgroup, /proc/stat, libvirt), explain disagreements, give verdicts.",
        discussion: """
            Without --experiment: samples every source at the start and end of --interval and compares them \
            (docs/validate.md: comparisons, tolerance, causes; JSON schema hvtax.validation/1).
            With --experiment: runs `hvtax workload` on the --schedule (its truth file is the ground truth), \
            samples every source during it and reports how far each is from the truth per phase \
            (schema hvtax.validate-experiment/1). With --experiment --vm NAME --load 75%:3m,90%:3m it attaches \
            to a VM you run yourself and compares against the load you describe, starting now.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }
    enum LibvirtMode: String, ExpressibleByArgument, CaseIterable { case auto, never }

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @Option(name: .customLong("color"), help: "Colour: auto, always, never.")
    var colour: OutputOptions.Colour = .auto

    @Option(help: "Interval compared (default 2s), or, with --experiment, how often to sample (default 500ms).")
    var interval: DurationArgument?

    @Option(help: "How many intervals to validate, one after another (not with --experiment).")
    var count: Int = 1

    @Option(name: .customLong("vm"), help: ArgumentHelp("Only this VM (name or pid); repeatable. With --experiment --load: the VM to attach to.", valueName: "name"))
    var vms: [String] = []

    @Option(help: "Read /proc and /sys under this directory instead of / (a fixture tree).")
    var root: String = "/"

    @Option(help: "Ask libvirt for its own figures (virsh domstats): auto (when virsh is installed) or never.")
    var libvirt: LibvirtMode = .auto

    @Option(help: "libvirt connection URI for virsh.")
    var uri: String = "qemu:///system"

    @Flag(help: "Run a known load and compare every source with its truth.")
    var experiment = false

    @Option(help: ArgumentHelp("The workload's duty steps (with --experiment).", valueName: "duty:duration,..."))
    var schedule: String = "75%:3m,90%:3m"

    @Option(help: "The workload's vCPUs (with --experiment).")
    var vcpus: Int = 1

    @Option(help: "The workload's busy+idle period (with --experiment).")
    var period: String = "100ms"

    @Option(help: ArgumentHelp("Exits the workload makes per second per vCPU, e.g. io:1000/s,mmio:200/s,cpuid:500/s.", valueName: "kind:rate/s,..."))
    var exits: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Nice value of the workload's vCPU threads (default -10 as root, so the duty holds on a busy host).", valueName: "n"))
    var nice: Int32?

    @Option(help: ArgumentHelp("Keep the workload's truth file here (default: a temporary file, removed).", valueName: "FILE"))
    var truth: String?

    @Option(help: ArgumentHelp("With --experiment --vm NAME: the load you run in that VM, per vCPU, from now on.", valueName: "duty:duration,..."))
    var load: String?

    @Option(help: "A source within this many percentage points of the truth is trustworthy (with --experiment).")
    var tolerance: Double = 2

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        // NaN compared false with every error, so no source could be trusted or blamed.
        guard (0...100).contains(tolerance) else {
            throw ValidationError("--tolerance is in percentage points, from 0 to 100 (got \(tolerance))")
        }
        if let interval, interval.nanoseconds < 100_000_000 { throw ValidationError("--interval must be at least 100ms") }
        if load != nil && (!experiment || vms.count != 1) {
            throw ValidationError("--load describes the load of one VM you name: use it with --experiment --vm NAME")
        }
        if experiment && load == nil && !vms.isEmpty {
            throw ValidationError("--experiment --vm NAME needs --load DUTY:DURATION,... (the load you run in that VM)")
        }
        if experiment && root != "/" { throw ValidationError("--experiment runs on the live host only (not with --root)") }
    }

    var style: TerminalStyle {
        switch colour {
        case .always: TerminalStyle(colour: true)
        case .never: TerminalStyle(colour: false)
        case .auto: TerminalStyle(colour: isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil)
        }
    }

    func run() throws {
        let fs = HostFileSystem(root: root)
        guard fs.isDirectory("/proc") else { throw ValidationError("no /proc under \(root): not a host tree") }
        let sampler = LiveSampler(fs: fs)
        sampler.readsProcessTotals = true
        let virsh = libvirt == .auto && fs.isLiveRoot ? VirshStatsReader(fs: fs, uri: uri) : nil
        let validator = AccountingValidator(ticksPerSecond: sampler.ticksPerSecond, backend: sampler.backend)
        let run = ValidationRun(sampler: sampler, virsh: virsh)
        TopSignals.install()
        if experiment {
            let analyzer = AccountingExperimentAnalyzer(validator: validator, tolerancePoints: tolerance)
            let result = if let load {
                try attach(run, analyzer: analyzer, vm: vms[0], load: load)
            } else {
                try runWorkload(run, analyzer: analyzer)
            }
            switch format {
            case .text: print(ExperimentTextRenderer(style: style).render(result), terminator: "")
            case .json: print(try JSONRendering.render(result), terminator: "")
            }
            return
        }
        let intervalNs = interval?.nanoseconds ?? 2_000_000_000
        let advisor = try Advisor.standard()
        var before = try run.sample()
        _ = try filtered(sampler.vms)  // a --vm that selects nothing is said now, not after the interval
        for _ in 0..<count {
            guard TopSignals.sleep(intervalNs) else { break }
            let after = try run.sample()
            var validation = validator.validate(from: before, to: after, vms: try filtered(sampler.vms))
            if virsh == nil { validation.environment.libvirt = libvirt == .never ? "not asked (--libvirt never)" : "not read (fixture root)" }
            validation.advice = advisor.advise(validation)
            switch format {
            case .text: print(ValidationTextRenderer(style: style).render(validation))
            case .json: print(try JSONRendering.render(validation), terminator: "")
            }
            fflush(nil)  // all streams: naming `stdout` is shared mutable state to Swift 6
            before = after
        }
    }

    /// The VMs --vm selects; an error naming the VMs there are when one of them selects none, as the
    /// sources cannot be compared for a VM that was not there when the interval began.
    func filtered(_ all: [DiscoveredVM]) throws -> [DiscoveredVM] {
        let selection = VMSelection(vms)
        if let unmatched = selection.unmatched(among: all.map { (name: $0.name, pid: $0.pid) }, place: "on this host").first {
            throw CommandFailure(unmatched + " (hvtax snapshot lists them)")
        }
        return all.filter { selection.selects(name: $0.name, pid: $0.pid) }
    }

    // MARK: Experiments

    /// Starts `hvtax workload`, samples until it ends (or a signal ends it early), then compares.
    func runWorkload(_ run: ValidationRun, analyzer: AccountingExperimentAnalyzer) throws -> AccountingExperiment {
        let name = "hvtax-validate-\(getpid())"
        let truthPath = truth ?? FileManager.default.temporaryDirectory.appendingPathComponent("\(name).truth.jsonl").path
        defer { if truth == nil { try? FileManager.default.removeItem(atPath: truthPath) } }
        var arguments = ["workload", "--vcpus", String(vcpus), "--schedule", schedule, "--period", period, "--truth-interval", "500ms",
                         "--name", name, "--truth", truthPath]
        if let exits { arguments += ["--exits", exits] }
        if let niceValue = nice ?? (geteuid() == 0 ? -10 : nil) { arguments += ["--nice", String(niceValue)] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ownExecutable())
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        // However this ends, the workload does not outlive us.
        defer {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        let pid = process.processIdentifier
        var samples: [HostSample] = []
        var identity: DiscoveredVM?
        var others = 0
        let sampleNs = interval?.nanoseconds ?? 500_000_000
        var stopped = false
        while process.isRunning {
            if TopSignals.stop.load(ordering: .relaxed), !stopped {
                // End the workload cleanly: it writes its last intervals and its end record.
                kill(pid, SIGTERM)
                stopped = true
            }
            let sample = try run.sample()
            if let vm = run.sampler.vms.first(where: { $0.pid == pid }), vm.vcpuThreads.count == vcpus {
                identity = vm
                samples.append(sample)
                others = max(others, run.sampler.vms.count - 1)
            }
            _ = TopSignals.sleep(sampleNs)
        }
        process.waitUntilExit()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw CommandFailure("hvtax workload failed (status \(process.terminationStatus)): \(complaint.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let text = try String(contentsOfFile: truthPath, encoding: .utf8)
        let records: [WorkloadTruthRecord]
        do {
            records = try WorkloadTruthRenderer.records(fromJSONLines: text)
        } catch {
            throw CommandFailure("\(truthPath), \(error.problem); expected the truth hvtax workload writes")
        }
        guard case .start(let start)? = records.first else { throw CommandFailure("\(truthPath): no start record") }
        let intervals = records.compactMap { record -> WorkloadTruthInterval? in
            if case .interval(let i) = record { return i }
            return nil
        }
        guard let vm = identity else { throw CommandFailure("the workload (pid \(pid)) was never seen with its \(vcpus) vCPU threads") }
        return analyzer.analyze(samples: samples, vm: vm, truth: .workload(start: start, intervals: intervals, file: truthPath),
                                otherVMs: others)
    }

    /// Samples a VM the user runs, for the length of the load they describe.
    func attach(_ run: ValidationRun, analyzer: AccountingExperimentAnalyzer, vm wanted: String, load: String) throws -> AccountingExperiment {
        let phases: [WorkloadPhase]
        do {
            phases = try WorkloadSyntax.schedule(load)
        } catch {
            throw ValidationError("--load: \(error)")
        }
        var samples: [HostSample] = [try run.sample()]
        guard let vm = try filtered(run.sampler.vms).first else {
            throw CommandFailure("no VM named \(wanted) on this host (hvtax snapshot lists them)")
        }
        let start = samples[0].monotonicNs
        let end = start + phases.reduce(0) { $0 + $1.durationNs }
        let sampleNs = interval?.nanoseconds ?? 500_000_000
        var others = run.sampler.vms.count - 1
        while TopSignals.sleep(sampleNs) {
            let sample = try run.sample()
            samples.append(sample)
            others = max(others, run.sampler.vms.count - 1)
            if sample.monotonicNs >= end { break }
        }
        return analyzer.analyze(samples: samples, vm: vm, truth: .described(phases: phases, startMonotonicNs: start, text: load),
                                otherVMs: others)
    }

    /// The running binary, resolved, so the workload is this very hvtax.
    static func ownExecutable() -> String {
        var target = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &target, target.count - 1)
        return length > 0 ? String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }
}

/// One sample of every source: the sampler's files, and libvirt's figures read right after.
final class ValidationRun {
    let sampler: LiveSampler
    let virsh: VirshStatsReader?

    init(sampler: LiveSampler, virsh: VirshStatsReader?) {
        self.sampler = sampler
        self.virsh = virsh
    }

    func sample() throws -> HostSample {
        var sample = try sampler.sample()
        if let virsh { sample.libvirt = virsh.read() }
        return sample
    }
}
