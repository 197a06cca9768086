import Foundation
import Testing
import HVTaxEvents
import HVTaxModel
import HVTaxPipeline
import HVTaxSynth
import HVTaxTestSupport
import HVTaxTrace

/// The host + guest merge on a constructed run (`HostGuestScenario`): a host trace.dat with a GUEST
/// option and a guest trace.dat with TRACEID and an interpolating, scaling TIME_SHIFT option, whose
/// true guest-task-per-interval attribution is known.
@Suite("host + guest merge", .scratchDirectory)
struct HostGuestMergeTests {
    /// Writes the scenario as host.dat and guest.dat in a directory of the running test's own.
    static func write(_ scenario: HostGuestScenario, symbols: SymbolTable, name: String,
                      guestTraceID: UInt64 = HostGuestScenario.guestTraceID,
                      vcpuThreads: [(vcpu: Int32, tid: Int32)]? = nil) throws -> (host: String, guest: String) {
        let directory = try ScratchDirectory.path(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let host = TraceDatEncoder(symbols: symbols)
        host.traceID = HostGuestScenario.hostTraceID
        host.guests = [.init(name: HostGuestScenario.guestName, traceID: HostGuestScenario.guestTraceID,
                             vcpuThreads: vcpuThreads ?? scenario.vcpuThreads)]
        for event in scenario.hostEvents.sorted(by: { $0.time < $1.time }) { try host.add(event) }
        let hostPath = directory + "/host.dat"
        try host.finish(to: TraceDatOutput(path: hostPath))
        let guest = TraceDatEncoder(symbols: symbols)
        guest.traceID = guestTraceID
        let samples = HostGuestScenario.clockSamples.map {
            TraceDatFile.TimeShift.Sample(time: $0.guestTime, offset: $0.offset, scaling: $0.scaling, fraction: $0.fraction)
        }
        guest.timeShift = .init(peerTraceID: HostGuestScenario.hostTraceID, flags: 1,
                                cpus: Array(repeating: samples, count: scenario.vcpuThreads.count))
        for event in scenario.guestEvents.sorted(by: { $0.time < $1.time }) { try guest.add(event) }
        let guestPath = directory + "/guest.dat"
        try guest.finish(to: TraceDatOutput(path: guestPath))
        return (hostPath, guestPath)
    }

    @Test("guest tasks, IRQs and syscalls are attributed to vCPU intervals exactly as constructed")
    func attribution() throws {
        let symbols = SymbolTable()
        let scenario = HostGuestScenario(symbols: symbols)
        let (host, guest) = try Self.write(scenario, symbols: symbols, name: "truth")
        let report = try TraceReportPipeline.run(paths: [host, guest])
        let guests = try #require(report.guests)
        #expect(guests.count == 1)
        let merged = try #require(guests.first)
        #expect(merged.name == HostGuestScenario.guestName)
        #expect(merged.traceID == "0x1234abcd5678")
        #expect(merged.events == UInt64(scenario.guestEvents.count))
        #expect(merged.unattributedEvents == 0)
        #expect(merged.vcpus.map(\.vcpu) == [0, 1])
        for vcpu in merged.vcpus {
            let truth = try #require(scenario.truth[vcpu.vcpu])
            var seen: [HostGuestScenario.IntervalKind: [Int32?: HostGuestScenario.Activity]] = [:]
            for interval in vcpu.intervals {
                let kind = HostGuestScenario.IntervalKind(state: interval.state, reason: interval.exitReason)
                for task in interval.tasks {
                    seen[kind, default: [:]][task.tid] = .init(time: task.time, irqs: task.irqs, syscalls: task.syscalls)
                }
                #expect(interval.time == interval.tasks.reduce(0) { $0 + $1.time })
            }
            // Zero-length stretches (a task switched in at the instant it was first seen) are not reported.
            let expected = truth.mapValues { $0.filter { $0.value != .init() } }.filter { !$0.value.isEmpty }
            #expect(seen == expected, "vCPU \(vcpu.vcpu)")
            // The attributed time is the host vCPU thread's wall time: the report's own split agrees.
            let hostVCPU = try #require(report.vms.flatMap(\.vcpus).first { $0.vcpu == vcpu.vcpu })
            #expect(vcpu.time == hostVCPU.split.total)
            #expect(vcpu.intervals.contains { $0.state == .hypervisor && $0.exitReason == "EPT_VIOLATION" })
            #expect(vcpu.intervals.contains { $0.state == .preempted })
            #expect(vcpu.intervals.contains { $0.state == .vmm && $0.exitReason == "IO_INSTRUCTION" })
        }
        // The guest's thread ids never reach the host's analysis: only the two vCPU threads are vCPUs.
        #expect(report.vms.flatMap(\.vcpus).map(\.tid).sorted() == scenario.vcpuThreads.map(\.tid))
    }

    @Test("guest events are read at the host times trace-cmd's formula gives")
    func guestTimes() throws {
        let symbols = SymbolTable()
        let scenario = HostGuestScenario(vcpus: 2, cycles: 200, symbols: symbols)
        let (_, guest) = try Self.write(scenario, symbols: symbols, name: "times")
        let reader = try TraceDatReader(path: guest, symbols: SymbolTable())
        var times: [Int32: [UInt64]] = [:]
        while let event = try reader.next() { times[event.cpu, default: []].append(event.time) }
        for vcpu in [Int32(0), 1] {
            let expected = zip(scenario.guestEvents, scenario.guestHostTimes).filter { $0.0.cpu == vcpu }.map(\.1)
            #expect(times[vcpu] == expected)
        }
    }

    @Test("Debian's trace-cmd reads both files and puts the guest's events at the same host times")
    func traceCmdAgrees() throws {
        guard which("trace-cmd") != nil else {
            print("skipped: trace-cmd is not installed (apt-get install trace-cmd)")
            return
        }
        let symbols = SymbolTable()
        let scenario = HostGuestScenario(vcpus: 2, cycles: 100, symbols: symbols)
        let (host, guest) = try Self.write(scenario, symbols: symbols, name: "peer")
        // The guest file alone: trace-cmd applies its TIME_SHIFT whenever the option is there.
        let peer = try #require(try reportLines(guest), "trace-cmd report failed on the guest file")
        let ours = try readerLines(guest)
        #expect(peer.count == scenario.guestEvents.count)
        #expect(peer == ours)
        #expect(peer.map(\.timeNs).sorted() == scenario.guestHostTimes.sorted())
        // Both files together: trace-cmd's merged output has the guest's events at those times too.
        let (status, output) = try #require(try run(["trace-cmd", "report", "-t", "-i", host, "-i", guest]))
        #expect(status == 0)
        let lines = output.split(separator: "\n")
        let guestTimes = Set(scenario.guestHostTimes)
        let matched = lines.compactMap { line -> UInt64? in
            guard let parsed = ReportLine(line) else { return nil }
            return guestTimes.contains(parsed.timeNs) ? parsed.timeNs : nil
        }
        #expect(Set(matched) == guestTimes, "trace-cmd's merged report lacks guest events at the computed host times")
    }

    @Test("a guest whose trace id no GUEST entry names is an error naming both ids")
    func unknownGuest() throws {
        let symbols = SymbolTable()
        let scenario = HostGuestScenario(vcpus: 1, cycles: 20, symbols: symbols)
        let (host, guest) = try Self.write(scenario, symbols: symbols, name: "stranger", guestTraceID: 0x5555)
        let error = try #require(throws: TraceReadError.self) { try TraceReportPipeline.run(paths: [host, guest]) }
        #expect(error.file == guest)
        #expect(error.location == "option TRACEID")
        #expect(error.problem.contains("0x5555 matches no GUEST entry"))
        #expect(error.problem.contains("vm-merge 0x1234abcd5678"))
    }

    @Test("guest CPUs the GUEST option maps to no vCPU thread are counted, not attributed")
    func unmappedGuestCPU() throws {
        let symbols = SymbolTable()
        let scenario = HostGuestScenario(vcpus: 2, cycles: 30, symbols: symbols)
        let (host, guest) = try Self.write(scenario, symbols: symbols, name: "partial", vcpuThreads: [scenario.vcpuThreads[0]])
        let report = try TraceReportPipeline.run(paths: [host, guest])
        let merged = try #require(report.guests?.first)
        let onCPU1 = UInt64(scenario.guestEvents.filter { $0.cpu == 1 }.count)
        #expect(onCPU1 > 0)
        #expect(merged.unattributedEvents == onCPU1)
        #expect(merged.vcpus.map(\.vcpu) == [0])
        #expect(report.quality.notes.contains { $0.contains("\(onCPU1) events of guest vm-merge") })
    }

    /// A small valid guest file, and the file offset where its TIME_SHIFT option's data starts.
    static func guestBytes(_ timeShift: TraceDatFile.TimeShift) throws -> [UInt8] {
        let symbols = SymbolTable()
        let encoder = TraceDatEncoder(symbols: symbols)
        encoder.traceID = 1
        encoder.timeShift = timeShift
        try encoder.add(TraceEvent(time: 1_000, kind: .irqHandlerEntry, cpu: 0, tid: 1, code: 3))
        let output = TraceDatOutput()
        try encoder.finish(to: output)
        return output.bytes
    }

    @Test("bad TIME_SHIFT and GUEST options are errors with the byte offset of the bad field")
    func badOptions() throws {
        func sample(_ scaling: Int64 = 1, _ fraction: Int64 = 0) -> TraceDatFile.TimeShift.Sample {
            .init(time: 10, offset: 5, scaling: scaling, fraction: fraction)
        }
        /// The error, and the file offset of the option's data (it starts with the peer id, found by its bytes).
        func failure(_ cpus: [[TraceDatFile.TimeShift.Sample]]) throws -> (error: TraceReadError, start: Int) {
            let bytes = try Self.guestBytes(.init(peerTraceID: 0x7e57_7e57_7e57_7e57, flags: 0, cpus: cpus))
            let marker: [UInt8] = [0x57, 0x7e, 0x57, 0x7e, 0x57, 0x7e, 0x57, 0x7e]
            let start = try #require((0...(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == marker })
            let error = try #require(throws: TraceReadError.self) { _ = try TraceDatFile(bytes: bytes, name: "bad.dat") }
            return (error, start)
        }
        // The option's data: peer id (8), flags (4), cpu count (4), then per CPU: count (4), times, offsets, scalings.
        let zeroScaling = try failure([[sample(0)]])
        #expect(zeroScaling.error.location == "section 'option TIME_SHIFT', byte offset \(zeroScaling.start + 16 + 4 + 8 + 8)")
        #expect(zeroScaling.error.problem == "guest cpu 0, sample 0: scaling 0 is not positive")
        let bigFraction = try failure([[sample(1, 70)]])
        #expect(bigFraction.error.location == "section 'option TIME_SHIFT', byte offset \(bigFraction.start + 16 + 4 + 24)")
        #expect(bigFraction.error.problem.contains("70 fraction bits"))
        let noSamples = try failure([[]])
        #expect(noSamples.error.location == "section 'option TIME_SHIFT', byte offset \(noSamples.start + 16)")
        #expect(noSamples.error.problem == "guest cpu 0 has no time samples")

        // A GUEST option whose vCPU id is not below its vCPU count; and one claiming more vCPUs than fit.
        var meta = TraceDatMetadata(pageSize: 4096, headerPage: Formats.headerPage, headerEvent: Formats.headerEvent)
        meta.guests = [.init(name: "g", traceID: 0x0bad_0bad_0bad_0bad, vcpuThreads: [(0, 100), (5, 101)])]
        let output = TraceDatOutput()
        try TraceDatWriter.write(meta, cpus: [], version: .v6, to: output)
        let bytes = output.bytes
        let idAt = try #require((0...(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == [0xad, 0x0b, 0xad, 0x0b, 0xad, 0x0b, 0xad, 0x0b] })
        let badVCPU = try #require(throws: TraceReadError.self) { _ = try TraceDatFile(bytes: bytes, name: "host.dat") }
        #expect(badVCPU.location == "section 'option GUEST', byte offset \(idAt + 8 + 4 + 8)")
        #expect(badVCPU.problem == "guest g: vCPU id 5 is not a distinct id below the vCPU count 2")
        var huge = bytes
        huge[idAt + 8 + 3] = 0x40  // the vCPU count, little-endian: 0x40000002
        let tooMany = try #require(throws: TraceReadError.self) { _ = try TraceDatFile(bytes: huge, name: "host.dat") }
        #expect(tooMany.location == "section 'option GUEST', byte offset \(idAt + 8)")
        #expect(tooMany.problem.contains("1073741826 vCPUs need"))
    }
}
