import HVTaxModel

/// Generates a KVM trace of several VMs and vCPUs interleaved on several CPUs — guest runs, exits
/// of every path, userspace exits, interrupts, preemption, halts and lost events — and records the
/// truth as it goes. Streaming: memory does not grow with the number of events (unless latencies
/// are kept), so it also makes the 10-million-event benchmark trace.
public struct TraceSynthesizer {
    public struct Configuration: Sendable {
        public var vms = 3
        public var vcpusPerVM = 2
        /// Stop after about this many events.
        public var events = 10_000
        public var seed: UInt64 = 1
        /// Probability that an exit window (of a vCPU alone on its CPU) is lost, with a LOST marker.
        public var lossProbability = 0.002
        public var isa: ISA = .vmx
        /// Keep every latency in the truth (for percentile checks on small traces).
        public var keepLatencies = false
        public var format: Format = .ftrace
        /// Multiplies the on-CPU time of every exit handler (a slower host, a worse configuration),
        /// to make runs whose latencies differ by a known factor for `hvtax compare`.
        public var handlerScale = 1.0

        public enum Format: String, Sendable, CaseIterable {
            /// The kernel's print format (5.10+ kvm_exit) with the record-tgid column, µs timestamps.
            case ftrace
            /// perf script: `comm pid/tid [cpu] seconds: kvm:kvm_exit: ...`, ns timestamps.
            case perf
        }

        public init() {}

        /// The most vCPUs a trace may have: each gets a CPU of its own, and 8,192 is the most CPUs a
        /// distribution kernel supports (CONFIG_NR_CPUS).
        public static let maxVCPUs = 8_192
        /// The handler scale's upper bound: the longest handler (30 µs) becomes 30 ms, still a
        /// handler and far inside the clock (an unbounded scale overflowed the nanosecond times).
        public static let maxHandlerScale = 1_000.0

        /// What is wrong with this configuration, or nil: the generator's ground truth holds only
        /// inside these bounds.
        public var problem: String? {
            if vms < 1 { return "--vms must be at least 1 (got \(vms))" }
            if vcpusPerVM < 1 { return "--vcpus-per-vm must be at least 1 (got \(vcpusPerVM))" }
            if vms > Self.maxVCPUs || vcpusPerVM > Self.maxVCPUs || vms * vcpusPerVM > Self.maxVCPUs {
                return "\(vms) VMs of \(vcpusPerVM) vCPUs is more than \(Self.maxVCPUs) vCPUs, each of which needs a CPU of its own"
            }
            if events < 0 { return "--events must not be negative (got \(events))" }
            if !(0...1).contains(lossProbability) { return "--loss is a probability from 0 to 1 (got \(lossProbability))" }
            if !(0...Self.maxHandlerScale).contains(handlerScale) {
                return "--handler-scale must be from 0 to \(Int(Self.maxHandlerScale)) (got \(handlerScale))"
            }
            return nil
        }

        /// VM `n`'s process id is 1000 + n × stride and its vCPU threads follow it, so the stride
        /// leaves room for every vCPU: VMs of up to 99 vCPUs keep the ids 1000, 1100, 1200...
        var pidStride: Int { (vcpusPerVM / 100 + 1) * 100 }
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration) { self.configuration = configuration }

    /// Writes the trace through `write` in large chunks and returns the truth.
    /// - Precondition: `configuration.problem` is nil.
    public func generate(write: (UnsafeRawBufferPointer) throws -> Void) rethrows -> GroundTruth {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        var rng = SplitMix64(seed: configuration.seed)
        var vcpus: [SimulatedVCPU] = []
        var cpu: Int32 = 0
        for vm in 0..<configuration.vms {
            let pid = Int32(1000 + vm * configuration.pidStride)
            for index in 0..<configuration.vcpusPerVM {
                // Each vCPU has a CPU of its own, so lost events on a CPU concern one vCPU only.
                vcpus.append(SimulatedVCPU(pid: pid, tid: pid + 1 + Int32(index), vcpu: Int32(index), cpu: cpu,
                                           start: 1_000_000_000 + UInt64(vcpus.count) * 1_000, configuration: configuration))
                cpu += 1
            }
        }
        var output = LineWriter(format: configuration.format)
        var truth = GroundTruth()
        // A k-way merge: always write the earliest next event of any vCPU (ties: lowest vCPU index),
        // so the trace is in time order as the kernel's own output is. A vCPU's next batch of
        // events is simulated only when its queue runs empty.
        var queues = vcpus.indices.map { vcpus[$0].nextEvents(rng: &rng) }
        var heads = [Int](repeating: 0, count: vcpus.count)
        var emitted = 0
        while true {
            var best = -1
            var bestTime = UInt64.max
            for index in queues.indices where heads[index] < queues[index].count {
                let time = queues[index][heads[index]].time
                if time < bestTime {
                    best = index
                    bestTime = time
                }
            }
            guard best >= 0 else { break }
            let event = queues[best][heads[best]]
            heads[best] += 1
            output.append(event, vcpu: vcpus[best])
            if case .lost = event.kind {} else { emitted += 1 }
            try output.flushIfFull(write)
            if heads[best] == queues[best].count {
                heads[best] = 0
                if emitted < configuration.events {
                    queues[best] = vcpus[best].nextEvents(rng: &rng)
                } else if !vcpus[best].finished {
                    queues[best] = vcpus[best].finish()
                } else {
                    queues[best] = []
                }
            }
        }
        try output.flush(write)
        for vcpu in vcpus {
            truth.vcpus.append(vcpu.truth)
            truth.lostEvents += vcpu.lostEvents
            truth.lostMarkers += vcpu.lostMarkers
        }
        truth.exitsOpenAtEnd = UInt64(vcpus.count)
        truth.events = UInt64(emitted)
        return truth
    }
}

/// A deterministic pseudo-random generator (SplitMix64), so a seed names a trace.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform in lo...hi.
    mutating func between(_ lo: UInt64, _ hi: UInt64) -> UInt64 { lo + next() % (hi - lo + 1) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
}
