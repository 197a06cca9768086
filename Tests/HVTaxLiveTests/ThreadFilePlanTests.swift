import Foundation
@testable import HVTaxHost
import HVTaxModel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The live sampler reads every VM thread's counter files through one flat plan of descriptors.
/// These tests run it on the real procfs with this test process standing in for a VM and its own
/// threads for the VM's threads: a thread's files stay open across samples and rebuilds, a thread
/// that ends fails its read instead of being read as another task, and a rebuild closes exactly the
/// files no thread needs any more.
@Suite("thread file plan on the real procfs")
struct ThreadFilePlanTests {
    typealias Worker = OpenCounterFilesTests.Worker

    static func vm(_ threads: [(Worker, ThreadRole)]) -> DiscoveredVM {
        let pid = getpid()
        return DiscoveredVM(pid: pid, name: "hvtax-tests", kind: .qemu, uuid: nil,
                            threads: threads.enumerated().map { index, thread in
                                DiscoveredThread(tid: thread.0.tid, pid: pid, name: thread.1 == .vcpu ? "CPU \(index)/KVM" : "worker",
                                                 role: thread.1, vcpu: thread.1 == .vcpu ? index : nil)
                            },
                            cgroup: nil)
    }

    @Test("a vCPU's three files and another thread's schedstat: opened once, fresh at every read, closed when the thread or its role goes")
    func planOnProcfs() throws {
        let vcpu = Worker()
        let other = Worker()
        defer { vcpu.end() }
        let plan = ThreadFilePlan(fs: .live)
        var reader = CounterReader(files: OpenCounterFiles(fs: .live), threadFiles: plan, ticksPerSecond: 100)
        reader.state = .initial()
        func read(_ index: Int) -> ThreadCounters? { reader.read(&plan.entries[index]) }

        plan.rebuild([Self.vm([(vcpu, .vcpu), (other, .emulator)])])
        #expect(plan.vmStarts == [0, 2])
        let first = try #require(read(0))
        _ = try #require(read(1))
        #expect(plan.opens == 4 && plan.openCount == 4, "schedstat, stat and sched of the vCPU, schedstat of the other")
        #expect(reader.state.hasSchedFile == true, "this kernel has /proc/.../sched (CONFIG_SCHED_DEBUG)")
        #expect(plan.entries[0].layout != nil, "the sched figures were found and their place kept")

        vcpu.spin()
        let second = try #require(read(0))
        #expect(second.onCPUNs >= first.onCPUNs + 20_000_000, "30 ms spun between the reads: \(first.onCPUNs) -> \(second.onCPUNs) ns")
        #expect(second.voluntarySwitches >= first.voluntarySwitches && second.involuntarySwitches >= first.involuntarySwitches)
        #expect(first.migrations != nil, "se.nr_migrations read from /proc/.../sched")
        #expect(second.utimeTicks + second.stimeTicks >= first.utimeTicks + first.stimeTicks)
        #expect(plan.opens == 4, "the second read used the descriptors of the first")

        // A rebuild for the same threads keeps every descriptor and the sched layout.
        let descriptors = (plan.entries[0].schedstat, plan.entries[0].stat, plan.entries[0].switches, plan.entries[1].schedstat)
        plan.rebuild([Self.vm([(vcpu, .vcpu), (other, .emulator)])])
        #expect((plan.entries[0].schedstat, plan.entries[0].stat, plan.entries[0].switches, plan.entries[1].schedstat) == descriptors)
        #expect(plan.entries[0].layout != nil && plan.opens == 4 && plan.openCount == 4)

        // The other thread ends: its read fails (ESRCH), never reads another task, and its file is closed.
        other.end()
        #expect(read(1) == nil)
        #expect(plan.entries[1].schedstat == -1 && plan.openCount == 3)

        // The vCPU becomes an ordinary thread: its stat and sched are closed, its schedstat kept.
        plan.rebuild([Self.vm([(vcpu, .emulator)])])
        #expect(plan.entries.count == 1 && plan.vmStarts == [0, 1])
        #expect(plan.entries[0].schedstat == descriptors.0 && plan.entries[0].stat == -1 && plan.entries[0].switches == -1)
        #expect(plan.openCount == 1)
        let asOther = try #require(read(0))
        #expect(asOther.onCPUNs >= second.onCPUNs && plan.opens == 4)

        // No VM any more: everything closed.
        plan.rebuild([])
        #expect(plan.entries.isEmpty && plan.vmStarts == [0] && plan.openCount == 0)
    }

    @Test("a vCPU's sched file is read again from its first wanted line on: a fresh reading, the same figures as the whole file, nil when a line moved")
    func schedReadFromTheMiddle() throws {
        let vcpu = Worker()
        defer { vcpu.end() }
        let plan = ThreadFilePlan(fs: .live)
        var reader = CounterReader(files: OpenCounterFiles(fs: .live), threadFiles: plan, ticksPerSecond: 100)
        reader.state = .initial()
        plan.rebuild([Self.vm([(vcpu, .vcpu)])])
        let firstRead = reader.read(&plan.entries[0])
        let first = try #require(firstRead)
        let layout = try #require(plan.entries[0].layout)
        let origin = layout.readOffset
        #expect(origin > 0, "the wanted lines start after the header line")
        let path = "/proc/self/task/\(vcpu.tid)/sched"
        var buffer = [UInt8](repeating: 0, count: 8192 + 128)

        vcpu.spin()
        let span = plan.read(&plan.entries[0].switches, path: { path }, into: &buffer, count: layout.end + 128 - origin, at: origin)
        let n = try #require(span)
        #expect(!n.isEmpty && buffer[n.lowerBound] == 10, "the span starts at the newline before the first wanted line")
        let address = buffer.withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
        #expect((address + n.lowerBound) & 63 == origin & 63, "read to where it sits within a 64-byte line in the file")
        var fromMiddle = ThreadCounters()
        #expect(ProcParse.sched(buffer[n], into: &fromMiddle, known: layout, origin: origin) == layout)
        #expect(fromMiddle.voluntarySwitches > first.voluntarySwitches, "the worker blocked again after it spun: a fresh reading")

        // The thread is blocked now: the span and the whole file give the same figures.
        let wholeRead = plan.read(&plan.entries[0].switches, path: { path }, into: &buffer, count: buffer.count)
        let whole = try #require(wholeRead)
        var all = ThreadCounters()
        #expect(ProcParse.sched(buffer[whole], into: &all) != nil)
        #expect((all.voluntarySwitches, all.involuntarySwitches, all.migrations) == (fromMiddle.voluntarySwitches, fromMiddle.involuntarySwitches, fromMiddle.migrations))
        let readerRead = reader.read(&plan.entries[0])
        let viaReader = try #require(readerRead)
        #expect((viaReader.voluntarySwitches, viaReader.involuntarySwitches, viaReader.migrations) == (all.voluntarySwitches, all.involuntarySwitches, all.migrations))

        // A line that is not where the layout has it: no figures from the span, so the caller reads the whole file.
        let spanAgain = plan.read(&plan.entries[0].switches, path: { path }, into: &buffer, count: layout.end + 128 - origin, at: origin)
        let again = try #require(spanAgain)
        var moved = layout
        moved.involuntary += 1
        var none = ThreadCounters()
        #expect(ProcParse.sched(buffer[again], into: &none, known: moved, origin: origin) == nil)
        #expect(none == ThreadCounters(), "nothing written")
    }
}
