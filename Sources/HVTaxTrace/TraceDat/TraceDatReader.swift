import CHotPath
import HVTaxEvents
import HVTaxModel

/// Reads a trace-cmd trace.dat (v6 or v7, uncompressed, zlib or zstd) as one time-ordered stream of
/// events: each CPU's ring-buffer pages are decoded on their own and merged by timestamp.
public final class TraceDatReader: EventStream {
    public let file: TraceDatFile
    public private(set) var source: TraceSource
    /// What the reader met, with the CPUs' late records counted up to now (a live reader is asked
    /// while it reads).
    public var diagnostics: ReaderDiagnostics {
        var all = collected
        all.lateEvents += cpus.reduce(0) { $0 + $1.lateRecords }
        return all
    }
    private var collected = ReaderDiagnostics()
    /// Nanoseconds, or raw ticks for a counter clock without TSC2NSEC.
    public let clock: ClockInfo

    private let cpus: [RingBufferCPU]
    /// The same CPUs without reference counting, for the per-event path (`cpus` keeps them alive).
    private let cpuRefs: UnsafeMutablePointer<Unmanaged<RingBufferCPU>>
    private var mapper: TraceDatEventMapper
    /// The next event of each CPU, decoded ahead so the merge compares times (a raw buffer: the
    /// hot path writes it in place).
    private let pending: UnsafeMutablePointer<TraceEvent>
    /// A winner tree over the CPUs: `tree[1]` is the CPU with the earliest pending event; after that
    /// CPU advances, only its path to the root is replayed (log2 CPUs compares, no swaps).
    /// Each node holds its winner's CPU and time, so a replay compares two adjacent nodes without
    /// chasing indices (leaves at `leaves + cpu`; exhausted CPUs have time `UInt64.max`).
    private let tree: UnsafeMutablePointer<Int32>
    private let treeTimes: UnsafeMutablePointer<UInt64>
    private let leaves: Int
    private let tsc2nsec: TraceDatFile.TSC2NSec?
    private let counterHz: UInt64?
    /// A guest file's TIME_SHIFT: times go onto the host's clock before anything else.
    private let guestClock: GuestClock?
    /// Events of guest CPUs the TIME_SHIFT option has no samples for (left on the guest's clock).
    private var unshiftedEvents: UInt64 = 0
    /// Record times are the report's times: a host file in nanoseconds (no TIME_SHIFT, no counter
    /// clock to convert).
    private let timesAsRecorded: Bool
    /// Stamped on every event: 0 for a host trace, N once `markAsGuest(N)` paired this file with a host.
    public private(set) var guestIndex: UInt16 = 0


    /// Memory for page batches, shared by all CPUs: bounded whatever the file's size.
    static let batchBudgetBytes = 16 << 20

    public convenience init(path: String, symbols: SymbolTable, counterHz: UInt64? = nil) throws(TraceReadError) {
        try self.init(file: TraceDatFile(path: path), symbols: symbols, counterHz: counterHz)
    }

    /// Reads a trace.dat held in memory (a recording not yet written, a test's bytes).
    public convenience init(bytes: [UInt8], name: String, symbols: SymbolTable) throws(TraceReadError) {
        try self.init(file: TraceDatFile(bytes: bytes, name: name), symbols: symbols)
    }

    /// - Parameter counterHz: the frequency of a counter clock (`x86-tsc`) the file gives no TSC2NSEC
    ///   for, to report nanoseconds instead of ticks.
    public init(file: TraceDatFile, symbols: SymbolTable, counterHz: UInt64? = nil) throws(TraceReadError) {
        self.file = file
        // Everything that can fail comes before the mapper and the pending buffer, which own memory.
        let layout = try PageLayout(file: file)
        let withData = file.cpuData.filter { $0.size > 0 }
        let batch = max(layout.pageSize, min(1 << 20, Self.batchBudgetBytes / max(1, withData.count)))
        var cpus: [RingBufferCPU] = []
        for data in withData {
            cpus.append(try RingBufferCPU(cpu: Int32(data.cpu), data: data, file: file, layout: layout, batchBytes: batch))
        }
        self.cpus = cpus
        cpuRefs = .allocate(capacity: max(1, cpus.count))
        for (index, cpu) in cpus.enumerated() { (cpuRefs + index).initialize(to: Unmanaged.passUnretained(cpu)) }
        mapper = TraceDatEventMapper(file: file, symbols: symbols)
        guestClock = file.timeShift.map(GuestClock.init)
        tsc2nsec = (file.clock == "x86-tsc" || file.clock == "tsc2nsec" || file.clock == "counter") ? file.tsc2nsec : nil
        if file.timestampsAreTicks, let hz = counterHz, hz > 0 {
            self.counterHz = hz
            clock = ClockInfo(unit: .ns, convertedFromCounterHz: Double(hz))
        } else {
            self.counterHz = nil
            clock = ClockInfo(unit: file.timestampsAreTicks ? .ticks : .ns)
        }
        timesAsRecorded = guestClock == nil && self.counterHz == nil && tsc2nsec == nil
        let format = "trace.dat v\(file.version)" + (file.truncatedCPUs.isEmpty ? "" : ", truncated")
        source = TraceSource(path: file.path, format: format,
                             compression: file.compression == .none ? nil : file.compression.name, lines: 0, events: 0)
        pending = .allocate(capacity: max(1, cpus.count))
        pending.initialize(repeating: TraceEvent(time: 0, kind: .other), count: max(1, cpus.count))
        var leaves = 1
        while leaves < cpus.count { leaves *= 2 }
        self.leaves = leaves
        tree = .allocate(capacity: 2 * leaves)
        tree.initialize(repeating: 0, count: 2 * leaves)
        treeTimes = .allocate(capacity: 2 * leaves)
        treeTimes.initialize(repeating: .max, count: 2 * leaves)
        collected.notes.append(contentsOf: mapper.notes)
        collected.notes.append(contentsOf: file.notes)
        if !file.otherInstances.isEmpty {
            collected.notes.append("trace.dat instances not read: \(file.otherInstances.joined(separator: ", "))")
        }
        // The recorder's end-of-run statistics count every lost event; page markers may not.
        for stats in file.cpuStats {
            var cpu = "", overrun: UInt64 = 0, dropped: UInt64 = 0
            for line in stats.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingBlanks() }
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "CPU": cpu = String(parts[1])
                case "overrun", "commit overrun": overrun += UInt64(parts[1]) ?? 0
                case "dropped events": dropped += UInt64(parts[1]) ?? 0
                default: break
                }
            }
            if overrun + dropped > 0 {
                collected.notes.append("cpu \(cpu): the kernel's buffer statistics in the file count \(overrun) events overwritten and \(dropped) dropped")
            }
        }
        if let shift = file.timeShift {
            collected.notes.append("\(file.path): a guest trace; its TIME_SHIFT option (peer trace id \(String(shift.peerTraceID, radix: 16)), "
                + "\(shift.cpus.count) guest CPUs) puts its times on the host's clock, as trace-cmd does")
        }
        if file.timestampsAreTicks && counterHz == nil {
            collected.notes.append("clock \(file.clock) without TSC2NSEC: times are counter ticks, not nanoseconds")
        }
        for leaf in 0..<leaves { tree[leaves + leaf] = Int32(leaf) }
        for index in cpus.indices where try advance(index) {
            treeTimes[leaves + index] = pending[index].time
        }
        var node = leaves - 1
        while node >= 1 {
            play(node)
            node -= 1
        }
    }


    /// The earlier of a node's two children wins; on equal times the left one, whose CPUs have the
    /// lower indices (a stable order): the rule of `hvtax_tournament_step`, the same as `pop` uses.
    private func play(_ node: Int) {
        let left = 2 * node
        var time = treeTimes[left], winner = tree[left]
        hvtax_tournament_step(&time, &winner, treeTimes[left + 1], tree[left + 1])
        tree[node] = winner
        treeTimes[node] = time
    }

    /// Takes the earliest pending event and decodes that CPU's next one.
    ///
    /// The replay carries the winner so far in registers and meets each ancestor's other child, whose
    /// node this pop does not change: its loads do not wait for the stores of the level below. Playing
    /// each node from its two stored children (`play`) read back what the level below had just
    /// written, one store-to-load round trip per level: the profile put a third of the reader's
    /// samples on that chain, and the whole report took 4% less CPU without it (median of 20
    /// interleaved pairs on the 5M-event trace.dat).
    @inline(__always)
    private func pop() throws(TraceReadError) -> TraceEvent? {
        guard treeTimes[1] != .max else { return nil }
        let index = Int(tree[1])
        let event = pending[index]
        var time = try advance(index) ? pending[index].time : .max
        var winner = Int32(truncatingIfNeeded: index)
        var node = leaves + index
        treeTimes[node] = time
        while node > 1 {
            let sibling = node ^ 1
            let siblingTime = treeTimes[sibling], siblingWinner = tree[sibling]
            // The earlier time wins; on equal times the lower CPU index, so the order stays stable.
            // In C: see the header for why.
            hvtax_tournament_step(&time, &winner, siblingTime, siblingWinner)
            node >>= 1
            tree[node] = winner
            treeTimes[node] = time
        }
        return event
    }

    deinit {
        cpuRefs.deallocate()
        tree.deallocate()
        treeTimes.deallocate()
        pending.deinitialize(count: max(1, cpus.count))
        pending.deallocate()
        mapper.deallocate()
    }

    /// Marks this file's events as the `index`-th guest's (1-based), once paired with its host.
    public func markAsGuest(_ index: UInt16) {
        guestIndex = index
        // The first event of each CPU was decoded when the reader opened.
        for cpu in cpus.indices { pending[cpu].guest = index }
    }

    /// A record's time in the report's clock: on the host's clock for a guest file, then in ns.
    /// Most files need neither, and their records skip the call.
    @inline(__always)
    private func placed(_ raw: UInt64, cpu: Int32) -> UInt64 {
        timesAsRecorded ? raw : converted(raw, cpu: cpu)
    }

    private func converted(_ raw: UInt64, cpu: Int32) -> UInt64 {
        guard let guestClock else { return nanoseconds(raw) }
        guard let host = guestClock.hostTime(raw, cpu: Int(cpu)) else {
            if unshiftedEvents == 0 {
                collected.notes.append("\(file.path): guest cpu \(cpu) has no TIME_SHIFT samples (the option covers "
                    + "\(guestClock.cpuCount)): its events stay on the guest's clock, as trace-cmd leaves them")
            }
            unshiftedEvents += 1
            return nanoseconds(raw)
        }
        return nanoseconds(host)
    }

    @inline(__always)
    private func nanoseconds(_ ticks: UInt64) -> UInt64 {
        if let hz = counterHz {
            let (high, low) = ticks.multipliedFullWidth(by: 1_000_000_000)
            return high >= hz ? UInt64.max : hz.dividingFullWidth((high, low)).quotient
        }
        guard let tsc2nsec else { return ticks }
        let product = ticks.multipliedFullWidth(by: UInt64(tsc2nsec.mult))
        let shift = UInt64(tsc2nsec.shift)
        if shift == 0 { return product.low }
        return (product.high << (64 - shift)) | (product.low >> shift)
    }

    /// Decodes the next event of CPU `index` into `pending[index]`, skipping records that cannot be
    /// decoded (counted); false at the end of that CPU's data.
    @inline(__always)
    private func advance(_ index: Int) throws(TraceReadError) -> Bool {
        var failure: TraceReadError?
        let decoded = cpuRefs[index]._withUnsafeGuaranteedRef { cpu -> Bool in
            do throws(TraceReadError) { return try advance(index, cpu) } catch { failure = error; return false }
        }
        if let failure { throw failure }
        return decoded
    }

    @inline(__always)
    private func advance(_ index: Int, _ cpu: RingBufferCPU) throws(TraceReadError) -> Bool {
        while true {
            // Nearly every record is a small data record inside the current page: decoded here,
            // without the call and the `Item` that `next()` returns for everything else.
            if let record = cpu.nextSmallRecord() {
                if decode(index, cpu, start: record.start, length: record.length, time: record.time) { return true }
                continue
            }
            guard let item = try cpu.next() else { return false }
            switch item {
            case .lost(let count, let time):
                if count == nil {
                    let note = "cpu \(cpu.cpu): the kernel lost events without storing how many"
                    if !collected.notes.contains(note) { collected.notes.append(note) }
                }
                pending[index] = TraceEvent(time: placed(time, cpu: cpu.cpu), kind: .lost, cpu: cpu.cpu, value: count ?? 0,
                                            flags: count == nil ? .countUnknown : [])
                pending[index].guest = guestIndex
                return true
            case .dataCut(let time):
                // The file's note says where it ends; this gap makes the CPU's vCPUs unknown after it.
                pending[index] = TraceEvent(time: placed(time, cpu: cpu.cpu), kind: .lost, cpu: cpu.cpu, flags: .countUnknown)
                pending[index].guest = guestIndex
                return true
            case .record(let start, let length, let time):
                if decode(index, cpu, start: start, length: length, time: time) { return true }
            }
        }
    }

    /// Decodes one record into `pending[index]`; false (and counted) when it cannot be decoded.
    @inline(__always)
    private func decode(_ index: Int, _ cpu: RingBufferCPU, start: Int, length: Int, time: UInt64) -> Bool {
        switch mapper.map(cpu.recordBytes(start: start, length: length), time: placed(time, cpu: cpu.cpu), cpu: cpu.cpu,
                          into: &pending[index]) {
        case .event:
            pending[index].guest = guestIndex
            return true
        case .malformed(let problem):
            collected.malformed(file: file.path, line: cpu.currentPageOffset,
                                  problem: "cpu \(cpu.cpu), page at byte offset \(cpu.currentPageOffset): \(problem)")
            return false
        }
    }

    /// Fills a batch in one loop: the pipeline reads this way, and per-event calls through the
    /// protocol would cost more than the decoding.
    public func read(into buffer: UnsafeMutableBufferPointer<TraceEvent>) throws -> Int {
        var count = 0
        while count < buffer.count, let event = try pop() {
            (buffer.baseAddress! + count).initialize(to: event)
            count += 1
        }
        source.events += UInt64(count)
        return count
    }

    public func next() throws(TraceReadError) -> TraceEvent? {
        guard let event = try pop() else { return nil }
        source.events += 1
        return event
    }

}
