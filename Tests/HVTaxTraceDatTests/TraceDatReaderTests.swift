import Testing
import HVTaxTrace
import HVTaxEvents
import HVTaxModel

/// Reads every event of a trace.dat held in memory.
func readAll(_ bytes: [UInt8], symbols: SymbolTable = SymbolTable(), name: String = "test.dat") throws -> (events: [TraceEvent], reader: TraceDatReader) {
    let reader = try TraceDatReader(bytes: bytes, name: name, symbols: symbols)
    var events: [TraceEvent] = []
    while let event = try reader.next() { events.append(event) }
    return (events, reader)
}

func write(_ meta: TraceDatMetadata, _ cpus: [[UInt8]], version: TraceDatVersion) throws -> [UInt8] {
    let output = TraceDatOutput()
    try TraceDatWriter.write(meta, cpus: cpus.map { .bytes($0) }, version: version, to: output)
    return output.bytes
}

/// Two CPUs of a small VM's life: entries and exits, a userspace exit, sched_switch, IRQs.
func sampleCPUs(bigEndian: Bool = false, commitSize: Int = 8) -> [[UInt8]] {
    var cpu0 = PageBuilder(bigEndian: bigEndian, commitSize: commitSize)
    cpu0.startPage(time: 1_000_000)
    cpu0.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 1_000_100)
    cpu0.add(RecordBuilder.kvmExit(pid: 1001, reason: 48, isa: 1, vcpu: 0), time: 1_000_500)
    cpu0.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 1_000_900)
    cpu0.add(RecordBuilder.kvmExit(pid: 1001, reason: 30, isa: 1, vcpu: 0), time: 1_001_000)
    cpu0.add(RecordBuilder.userspaceExit(pid: 1001, reason: 2), time: 1_001_100)
    cpu0.add(RecordBuilder.schedSwitch(prev: "CPU 0/KVM", prevPid: 1001, state: 0x100, next: "swapper/0", nextPid: 0), time: 1_001_200)
    var cpu1 = PageBuilder(bigEndian: bigEndian, commitSize: commitSize)
    cpu1.startPage(time: 1_000_050)
    cpu1.add(RecordBuilder.kvmEntry(pid: 1002, vcpu: 1), time: 1_000_200)
    cpu1.add(RecordBuilder.irqEntry(pid: 1002, irq: 36, name: "virtio1-req.0"), time: 1_000_300)
    cpu1.add(RecordBuilder.irqExit(pid: 1002, irq: 36), time: 1_000_350)
    cpu1.add(RecordBuilder.kvmExit(pid: 1002, reason: 1 | 0x8000_0000, isa: 1, vcpu: 1), time: 1_000_600)
    cpu1.add(RecordBuilder.schedSwitch(prev: "CPU 1/KVM", prevPid: 1002, state: 1, next: "kworker/1:1", nextPid: 77), time: 1_000_700)
    cpu1.add(RecordBuilder.schedWakeup(waker: 77, comm: "CPU 1/KVM", pid: 1002), time: 1_000_800)
    cpu1.add(RecordBuilder.pio(pid: 1002, port: 0x99, value: 7), time: 1_000_950)
    return [cpu0.build(), cpu1.build()]
}

@Suite("trace.dat reader")
struct TraceDatReaderTests {
    static let versions: [TraceDatVersion] = [.v6, .v7(.none), .v7(.zlib), .v7(.zstd)]

    @Test("every version and compression yields the same time-ordered events", arguments: versions)
    func versionsAgree(version: TraceDatVersion) throws {
        let symbols = SymbolTable()
        let bytes = try write(Formats.metadata(), sampleCPUs(), version: version)
        let (events, reader) = try readAll(bytes, symbols: symbols)
        #expect(events.count == 13)
        #expect(events.map(\.time) == events.map(\.time).sorted())
        #expect(events.map(\.kind) == [.kvmEntry, .kvmEntry, .irqHandlerEntry, .irqHandlerExit, .kvmExit, .kvmExit,
                                        .schedSwitch, .schedWakeup, .kvmEntry, .pio, .kvmExit, .userspaceExit, .schedSwitch])
        #expect(reader.diagnostics.malformedLines == 0)
        #expect(reader.clock.unit == .ns)
        if case .v7(let c) = version, c != .none { #expect(reader.source.compression == c.name) }
        #expect(reader.source.events == 13)
    }

    @Test("fields come from the formats: vcpu, VMX reason, FAILED_VMENTRY, comm, prev_state, irq")
    func fieldDecoding() throws {
        let symbols = SymbolTable()
        let (events, _) = try readAll(try write(Formats.metadata(), sampleCPUs(), version: .v6), symbols: symbols)
        let exits = events.filter { $0.kind == .kvmExit }
        #expect(exits.map { symbols.reasons.string($0.code) } == ["EPT_VIOLATION", "EXTERNAL_INTERRUPT", "IO_INSTRUCTION"])
        #expect(exits.map(\.vcpu) == [0, 1, 0])
        // hvtax's thread-group option gives the VM process of each vCPU thread.
        #expect(exits.map(\.tgid) == [1000, 1000, 1000])
        #expect(exits.map { $0.flags.contains(.failedVMEntry) } == [false, true, false])
        #expect(exits.map { symbols.names.string($0.comm) } == ["CPU 0/KVM", "CPU 1/KVM", "CPU 0/KVM"])
        let switches = events.filter { $0.kind == .schedSwitch }
        // 0x100 is R+ (preempted, runnable); 1 is S (blocked).
        #expect(switches.map { $0.flags.contains(.prevRunnable) } == [false, true])
        #expect(switches.map(\.tid) == [1002, 1001])
        #expect(switches.map { symbols.names.string($0.otherComm) } == ["kworker/1:1", "swapper/0"])
        #expect(switches.map(\.otherTid) == [77, 0])
        let wakeup = try #require(events.first { $0.kind == .schedWakeup })
        #expect(wakeup.tid == 77 && wakeup.otherTid == 1002)
        // pid 77 is not in the saved command lines, but the sched_switch before named it.
        #expect(symbols.names.string(wakeup.comm) == "kworker/1:1")
        let irq = try #require(events.first { $0.kind == .irqHandlerEntry })
        #expect(irq.code == 36 && irq.cpu == 1)
        let userspace = try #require(events.first { $0.kind == .userspaceExit })
        #expect(userspace.code == 2 && userspace.tid == 1001)
        // kvm_pio from its format's fields: rw 1, port 0x99, size 1.
        let pio = try #require(events.first { $0.kind == .pio })
        #expect(pio.code == 0x99 && pio.value == 1 && pio.flags.contains(.write) && pio.tid == 1002)
    }

    @Test("old kvm_exit without isa or vcpu_id: the ISA comes from the print format's table")
    func oldKVMExit() throws {
        var page = PageBuilder()
        page.startPage(time: 10)
        page.add(RecordBuilder.kvmExitOld(pid: 1001, reason: 0x400), time: 20)
        page.add(RecordBuilder.kvmExitOld(pid: 1001, reason: 0x078), time: 30)
        let symbols = SymbolTable()
        let (events, reader) = try readAll(try write(Formats.metadata(kvmExit: Formats.kvmExitOldSVM), [page.build()], version: .v6), symbols: symbols)
        #expect(events.map { symbols.reasons.string($0.code) } == ["npf", "hlt"])
        #expect(events.allSatisfy { $0.vcpu == TraceEvent.unknownID })
        #expect(reader.diagnostics.notes.contains { $0.contains("no vcpu_id") })
    }

    @Test("time extends, absolute timestamps, discarded events, end padding and long records")
    func pageEncodings() throws {
        var page = PageBuilder()
        let base: UInt64 = 0x0800_0000_0000_0000  // top bits set: absolute stamps must keep them
        page.startPage(time: base)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: base + 5)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 1), time: base + 5 + (1 << 30) + 17)  // needs a time extend
        page.discarded(bytes: 40, delta: 3)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 2), time: base + 5 + (1 << 30) + 17 + 3 + 9)
        page.absolute(base + 999_999_999)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 3), time: base + 999_999_999 + 1)
        page.add(RecordBuilder.kvmExit(pid: 1001, reason: 12, isa: 1, vcpu: 3), time: base + 1_000_000_100, forceLong: true)
        page.endPadding()
        let (events, reader) = try readAll(try write(Formats.metadata(), [page.build()], version: .v6))
        #expect(events.map(\.time) == [base + 5, base + 5 + (1 << 30) + 17, base + 5 + (1 << 30) + 29,
                                        base + 1_000_000_000, base + 1_000_000_100])
        #expect(events.map(\.vcpu) == [0, 1, 2, 3, 3])
        #expect(reader.diagnostics.malformedLines == 0)
    }

    @Test("lost events: counted when the kernel stored the count, flagged when it did not")
    func lostEvents() throws {
        var page = PageBuilder()
        page.startPage(time: 100)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 110)
        page.startPage(time: 200, lost: .some(.some(4242)))
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 210)
        page.startPage(time: 300, lost: .some(.none))
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 310)
        let (events, reader) = try readAll(try write(Formats.metadata(), [page.build()], version: .v7(.zstd)))
        #expect(events.map(\.kind) == [.kvmEntry, .lost, .kvmEntry, .lost, .kvmEntry])
        #expect(events.filter { $0.kind == .lost }.map(\.value) == [4242, 0])
        // At the last record before the gap, so the whole gap counts as unknown.
        #expect(events.filter { $0.kind == .lost }.map(\.time) == [110, 210])
        #expect(reader.diagnostics.notes.contains { $0.contains("without storing how many") })
    }

    @Test("big-endian files and 32-bit kernels' 4-byte commit field")
    func endiannessAndLongSize() throws {
        var meta = Formats.metadata(headerPage: Formats.headerPage32, bigEndian: true)
        meta.longSize = 4
        // Big-endian records need big-endian payloads too.
        var page = PageBuilder(bigEndian: true, commitSize: 4)
        page.startPage(time: 50, lost: .some(.some(3)))
        var entry = RecordBuilder(size: 36, id: 115, pid: 1001, bigEndian: true)
        entry.put(8, 4, 5)
        page.add(entry.bytes, time: 60)
        let (events, _) = try readAll(try write(meta, [page.build()], version: .v7(.zlib)))
        #expect(events.map(\.kind) == [.lost, .kvmEntry])
        #expect(events.map(\.value) == [3, 0])
        #expect(events.last?.vcpu == 5 && events.last?.tid == 1001)
    }

    @Test("x86-tsc with TSC2NSEC becomes nanoseconds; without it, ticks")
    func tscClock() throws {
        var page = PageBuilder()
        page.startPage(time: 3_000_000_000)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 3_000_003_000)
        var meta = Formats.metadata()
        meta.clock = "x86-tsc"
        let (ticks, tickReader) = try readAll(try write(meta, [page.build()], version: .v6))
        #expect(ticks.map(\.time) == [3_000_003_000])
        #expect(tickReader.clock.unit == .ticks)
        // 3 GHz: ns = ticks * mult >> shift with mult/shift = 1/3 in 2^-32 units.
        meta.tsc2nsec = .init(mult: 1_431_655_765, shift: 32, offset: 0)
        var page2 = PageBuilder()
        page2.startPage(time: 3_000_000_000)
        page2.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 3_000_003_000)
        let (ns, nsReader) = try readAll(try write(meta, [page2.build()], version: .v7(.none)))
        #expect(nsReader.clock.unit == .ns)
        #expect(ns.map(\.time) == [(UInt64(3_000_003_000) * 1_431_655_765) >> 32])
    }

    @Test("GUEST and TIME_SHIFT options are read")
    func hostGuestOptions() throws {
        var meta = Formats.metadata()
        meta.traceID = 0xfeed
        meta.guests = [.init(name: "vm1", traceID: 0xbeef, vcpuThreads: [(0, 1001), (1, 1002)])]
        meta.timeShift = .init(peerTraceID: 0xfeed, flags: 1, cpus: [[.init(time: 1, offset: -500, scaling: 1, fraction: 0)]])
        var page = PageBuilder()
        page.startPage(time: 1)
        for version in Self.versions {
            let file = try TraceDatFile(bytes: try write(meta, [page.build()], version: version), name: "g.dat")
            #expect(file.guests == meta.guests)
            #expect(file.timeShift == meta.timeShift)
            #expect(file.traceID == 0xfeed)
            #expect(file.cpuStats.count == 2)
            #expect(file.uname == "Linux test 6.18.0 x86_64")
        }
    }

    @Test("a record of an event id with no format is counted, not fatal")
    func unknownEventID() throws {
        var page = PageBuilder()
        page.startPage(time: 1)
        page.add(RecordBuilder(size: 16, id: 9999, pid: 1).bytes, time: 2)
        page.add(RecordBuilder.kvmEntry(pid: 1001, vcpu: 0), time: 3)
        let (events, reader) = try readAll(try write(Formats.metadata(), [page.build()], version: .v6))
        #expect(events.count == 1)
        #expect(reader.diagnostics.malformedLines == 1)
        #expect(reader.diagnostics.malformedExamples.first?.problem.contains("9999") == true)
    }
}
