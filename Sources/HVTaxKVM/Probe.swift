import HVTaxHost
import HVTaxModel
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `hvtax probe`: what each kind of exit costs on this host, measured by hvtax's own guest.
public enum Probe {
    /// The most per-iteration samples the guest's sample buffer holds.
    public static let maximumSamples = GuestLayout.sampleCapacity
    /// The longest loop the doubling may aim for: 2^40 cycles is five minutes a loop at 3.5 GHz, and
    /// the loop's watchdog (eight times the loop at the TSC's rate) must still fit in nanoseconds.
    public static let maximumLoopCycles: UInt64 = 1 << 40

    public struct Options: Sendable {
        public var samplesPerKind: Int
        /// The samples of each kind are taken in this many slices, all kinds interleaved.
        public var rounds: Int
        public var minimumLoopCycles: UInt64
        /// When set, a run pinned to this CPU follows the unpinned one.
        public var pinCPU: Int?
        public var devicePath: String

        /// Defaults sized for a few seconds on an emulating KVM and well under a second on hardware.
        public init(samplesPerKind: Int = 5000, rounds: Int = 10, minimumLoopCycles: UInt64 = 1 << 26,
                    pinCPU: Int? = nil, devicePath: String = KVMDevice.defaultPath) {
            self.samplesPerKind = samplesPerKind
            self.rounds = rounds
            self.minimumLoopCycles = minimumLoopCycles
            self.pinCPU = pinCPU
            self.devicePath = devicePath
        }
    }

    /// Runs the unpinned pass (and the pinned one) on a vCPU thread and assembles the report.
    /// Blocks the caller for the duration of the runs.
    public static func run(_ options: Options) throws(KVMError) -> ProbeReport {
        let device = try KVMDevice(path: options.devicePath)
        let host = HostCPU.current()
        let tsc = try discoverTSC(device: device)
        let runner = ProbeRunner(device: device, samplesPerKind: max(1, options.samplesPerKind),
                                 rounds: max(1, options.rounds), minimumLoopCycles: options.minimumLoopCycles,
                                 tsc: tsc, host: host)
        var runs = [try onVCPUThread(pinnedTo: nil) { () throws(KVMError) in
            try runner.run(label: "unpinned", pinnedCPU: nil)
        }]
        if let cpu = options.pinCPU {
            runs.append(try onVCPUThread(pinnedTo: cpu) { () throws(KVMError) in
                try runner.run(label: "pinned to CPU \(cpu)", pinnedCPU: cpu)
            })
        }
        let modules = WorldDetector.kvmModules()
        let world = WorldDetector.detect(
            host: host, backend: WorldDetector.configuredBackend(), modules: modules, baseline: runs[0].measurement(.guestInstructions, .insideGuest))
        let report = ProbeReport(
            host: ProbeHost(cpuVendor: host.vendorString, cpuModel: host.brand, kernelRelease: (try? Procfs(.live).kernelRelease()) ?? "unknown",
                            logicalCPUs: sysconf(Int32(_SC_NPROCESSORS_ONLN)), isItselfAGuest: host.isGuest,
                            hypervisorSignature: host.hypervisorSignature, kvmModules: modules),
            world: world, tsc: tsc,
            settings: ProbeSettings(samplesPerKind: runner.samplesPerKind, rounds: runner.rounds,
                                    minimumLoopCycles: options.minimumLoopCycles, pinnedCPU: options.pinCPU),
            runs: runs, comparisons: comparisons(runs[0]), notes: notes(runs: runs, world: world, host: host))
        return report
    }

    /// The TSC rate as KVM gives it to a vCPU (a throwaway VM asks), else the host's.
    static func discoverTSC(device: KVMDevice) throws(KVMError) -> TSCFrequency {
        let vm = try device.createVirtualMachine()
        let vcpu = try vm.createVCPU(id: 0)
        return TSCFrequencySource.discover(vcpu: vcpu)
    }

    /// Runs `body` on a thread named `CPU 0/KVM` (pinned when asked) and waits for its result.
    static func onVCPUThread<T: Sendable>(pinnedTo cpu: Int?, _ body: @escaping @Sendable () throws(KVMError) -> T)
        throws(KVMError) -> T
    {
        let result = Mutex<Result<T, KVMError>?>(nil)
        let thread = try VCPUThread(name: VCPUThread.vmmName(ofVCPU: 0), pinnedTo: cpu) {
            let outcome: Result<T, KVMError>
            do throws(KVMError) { outcome = .success(try body()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
        }
        thread.join()
        guard let outcome = result.withLock({ $0 }) else {
            throw .unexpectedExit(operation: "probe thread", exit: "ended without a result")
        }
        return try outcome.get()
    }

    static func comparisons(_ run: ProbeRun) -> [PublishedComparison] {
        PublishedExitCost.anchors.compactMap { anchor in
            guard let kind = anchor.comparableKind else { return nil }
            let vantage: ProbeVantage = kind == .portIO ? .aroundKVMRun : .insideGuest
            guard let measured = run.measurement(kind, vantage), let p50 = measured.cycles.map({ Double($0.p50) }) else {
                return nil
            }
            return PublishedComparison(kind: kind, vantage: vantage, measuredP50Cycles: p50, published: anchor,
                                       ratio: p50 / anchor.middleCycles)
        }
    }

    /// What a reader needs beside the numbers, derived from what was measured.
    static func notes(runs: [ProbeRun], world: VirtualizationWorld, host: HostCPU) -> [String] {
        var notes: [String] = []
        let run = runs[0]
        if host.isGuest {
            notes.append("This host is itself a guest (\(host.hypervisorSignature ?? "unknown hypervisor")): its \"native\" "
                + "CPUID is an exit to the outer hypervisor, so the exit/native-CPUID ratio understates the exit.")
        }
        for measurement in run.measurements where measurement.status == .unavailable {
            notes.append("\(measurement.kind.rawValue): \(measurement.unavailableReason ?? "unavailable")")
        }
        if let io = run.measurement(.portIO, .aroundKVMRun), io.samples > 0 {
            let ioExits = io.kvmStatsDelta["io_exits"] ?? 0
            let exits = io.kvmStatsDelta["exits"] ?? 0
            if ioExits == 0 && exits >= Int64(io.samples) {
                notes.append("KVM's io_exits counter stayed at 0 over \(io.samples) port I/O exits (exits grew by "
                    + "\(exits)): KVM counts io_exits only in the VMX/SVM I/O intercept handlers, which this KVM's "
                    + "emulation path never calls. Monitors must not rely on io_exits here.")
            }
        }
        if world.kind == .emulating {
            notes.append("Every guest instruction costs about \(WorldDetector.format(world.guestCyclesPerInstruction ?? 0)) "
                + "cycles here, so each timed region also pays for the RDTSC and loop instructions around it; the "
                + "timer-overhead row is subtracted from the per-iteration samples, not from kvm-unit-tests' loop means.")
        }
        return notes
    }
}
