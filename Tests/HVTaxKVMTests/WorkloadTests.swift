import Foundation
import HVTaxModel
import Synchronization
import Testing

@testable import HVTaxKVM

extension LiveKVM {
    @Suite("Workload: duty and exits match what the kernel measured")
    struct Workload {
        /// Samples each vCPU thread's /proc/self/task/TID/schedstat in the middle of the idle part of
        /// chosen periods, so the window holds whole periods.
        final class SchedstatMonitor: @unchecked Sendable {
            // @unchecked: written by the monitor thread, read after join.
            var first: [Int32: ThreadSchedstat] = [:]
            var last: [Int32: ThreadSchedstat] = [:]
            var firstNs: UInt64 = 0
            var lastNs: UInt64 = 0
        }

        static func sleep(untilMonotonicNs deadline: UInt64) {
            while Clock.monotonicNs() < deadline { usleep(UInt32(min(50_000, (deadline - Clock.monotonicNs()) / 1000 + 1))) }
        }

        @Test("10 s at 30% on 2 vCPUs with io, mmio and cpuid exits")
        func dutyAndExits() throws {
            let periodNs: UInt64 = 100_000_000
            let periods: UInt64 = 100
            // 2 x 30% leaves room for the other test suites and builds sharing a 2-CPU machine.
            let duty = 0.3
            let plan = WorkloadPlan(vcpus: 2, periodNs: periodNs,
                                    phases: [WorkloadPhase(duty: duty, durationNs: periods * periodNs)],
                                    exitRatesPerSecond: [.io: 2000, .mmio: 500, .cpuid: 1000],
                                    truthIntervalNs: 1_000_000_000, name: "hvtax-test",
                                    // Other suites of this run share the CPUs: within the session, a
                                    // higher priority keeps them from taking the duty's CPU time.
                                    vcpuNice: getuid() == 0 ? -10 : nil)
            let records = Mutex<[WorkloadTruthRecord]>([])
            let session = try WorkloadSession(plan: plan) { record in records.withLock { $0.append(record) } }
            // The test's own stats fds on the workload's vCPUs: a reader independent of the engine's.
            let readers = try session.machine.vcpus.map { try $0.statistics() }
            let before = try readers.map { try $0.sample() }
            let monitor = SchedstatMonitor()

            let events = ["kvm/kvm_userspace_exit", "kvm/kvm_pio", "kvm/kvm_mmio", "kvm/kvm_cpuid"]
            let (traced, lost) = try TracefsTestSupport.record(events: events, bufferKBPerCPU: 16384) { trace in
                let watcher = try VCPUThread(name: "schedstat watch") {
                    var start: WorkloadTruthStart?
                    while start == nil {
                        usleep(1000)
                        start = records.withLock { list in
                            list.lazy.compactMap { if case .start(let s) = $0 { s } else { nil } }.first
                        }
                    }
                    let tids = start!.vcpus.map(\.tid)
                    // Mid-idle of period 1 and of the last period: 98 whole periods between.
                    let idleMiddle = UInt64((duty + (1 - duty) / 2) * Double(periodNs))
                    Self.sleep(untilMonotonicNs: start!.startMonotonicNs + periodNs + idleMiddle)
                    monitor.firstNs = Clock.monotonicNs()
                    for tid in tids { monitor.first[tid] = KVMTestSupport.schedstat(tid: tid) }
                    Self.sleep(untilMonotonicNs: start!.startMonotonicNs + (periods - 1) * periodNs + idleMiddle)
                    monitor.lastNs = Clock.monotonicNs()
                    for tid in tids { monitor.last[tid] = KVMTestSupport.schedstat(tid: tid) }
                }
                let runStart = Clock.monotonicNs()
                try KVMTestSupport.withAutogroupNice(-10) { try session.run() }
                watcher.join()
                try trace.stopRecording()
                let parseStart = Clock.monotonicNs()
                let text = try trace.text()
                let traced = TracefsTestSupport.countByTask(text) { event, body in
                    switch event {
                    case "kvm_pio": body.contains("at 0xf0 ") ? "port f0" : "other"
                    case "kvm_mmio": String(body.split(separator: " ").prefix(2).joined(separator: " "))
                    case "kvm_cpuid": "cpuid"
                    default: String(body)
                    }
                }
                print("HVTaxKVMTests: workload ran \((parseStart - runStart) / 1_000_000) ms, trace of "
                    + "\(text.utf8.count / 1024) KiB read and counted in \((Clock.monotonicNs() - parseStart) / 1_000_000) ms")
                return (traced, try trace.lostEvents())
            }
            #expect(lost == 0, "the trace buffer overflowed; the tracepoint comparison would be wrong")

            let all = records.withLock { $0 }
            guard case .start(let start)? = all.first, case .end(let end)? = all.last else {
                Issue.record("the truth does not begin with start and end with end")
                return
            }
            #expect(end.reason == "completed")
            let intervals = all.compactMap { if case .interval(let interval) = $0 { interval } else { nil } }
            #expect(intervals.count == 20, "2 vCPUs x 10 one-second intervals")

            for (index, identity) in start.vcpus.enumerated() {
                let mine = intervals.filter { $0.vcpu == index }
                let claimed = mine.reduce(WorkloadExitCounts()) { $0 + $1.exits }
                let kernel = try readers[index].sample().cumulativeDeltas(since: before[index])
                let trace = traced[identity.tid] ?? [:]
                let userspace = trace["kvm_userspace_exit"] ?? [:]

                // The workload asked for 2000/500/1000 per second for 10 s; exits a starved period
                // could not fit move to the next one, so only the last period may fall short.
                #expect(claimed.io <= 20_000 && claimed.io >= 19_900)
                #expect(claimed.mmio <= 5_000 && claimed.mmio >= 4_975)
                #expect(claimed.cpuid <= 10_000 && claimed.cpuid >= 9_950)
                // What it claims is what the kernel counted: stats fd...
                #expect(kernel["mmio_exits"] == Int64(claimed.mmio))
                #expect(kernel["halt_exits"] == Int64(claimed.hlt))
                #expect(end.vcpus[index].kvmStats["mmio_exits"] == Int64(claimed.mmio))
                // ...and tracepoints.
                #expect(trace["kvm_pio"]?["port f0"] == Int(claimed.io))
                #expect(userspace["reason KVM_EXIT_IO (2)"] == Int(claimed.io))
                #expect(userspace["reason KVM_EXIT_MMIO (6)"] == Int(claimed.mmio))
                #expect(trace["kvm_mmio"]?["mmio write"] == Int(claimed.mmio))
                #expect(userspace["reason KVM_EXIT_HLT (5)"] == Int(claimed.hlt))
                #expect(trace["kvm_cpuid"]?["cpuid"] == Int(claimed.cpuid))
                #expect((userspace.values.reduce(0, +)) == Int(claimed.userspace))

                // Duty from the kernel's schedstat over 98 whole periods, within 2 percentage points.
                let first = try #require(monitor.first[identity.tid])
                let last = try #require(monitor.last[identity.tid])
                let measured = Double(last.onCPUNs - first.onCPUNs) / Double(monitor.lastNs - monitor.firstNs)
                print("HVTaxKVMTests: vCPU \(index) duty by schedstat \(measured * 100)% (asked \(duty * 100)%), "
                    + "run-queue wait \(Double(last.runQueueWaitNs - first.runQueueWaitNs) / 1e6) ms, "
                    + "exits io \(claimed.io) mmio \(claimed.mmio) cpuid \(claimed.cpuid) hlt \(claimed.hlt); per second "
                    + mine.map { String(Int(($0.measuredDuty * 100).rounded())) + "%" }.joined(separator: " "))
                #expect(abs(measured - duty) <= 0.02, "vCPU \(index): schedstat duty \(measured), asked \(duty)")

                // The truth's own books balance.
                for interval in mine {
                    #expect(interval.kvmRunNs + interval.idleNs + interval.userspaceNs == interval.wallNs)
                    #expect(interval.guestNs <= interval.kvmRunNs + interval.kvmRunNs / 50)
                    #expect(interval.complete)
                }
                #expect(abs(end.vcpus[index].measuredDuty - duty) <= 0.02)
            }
        }

        @Test("stop() ends every vCPU promptly with a complete truth")
        func stopEarly() throws {
            let plan = WorkloadPlan(vcpus: 2, periodNs: 100_000_000,
                                    phases: [WorkloadPhase(duty: 0.9, durationNs: 60_000_000_000)],
                                    exitRatesPerSecond: [.io: 100], truthIntervalNs: 1_000_000_000, name: "hvtax-stop")
            let records = Mutex<[WorkloadTruthRecord]>([])
            let session = try WorkloadSession(plan: plan) { record in records.withLock { $0.append(record) } }
            let stopper = try VCPUThread(name: "stopper") {
                usleep(1_300_000)
                session.stop(reason: "test")
            }
            let started = Clock.monotonicNs()
            let end = try session.run()
            stopper.join()
            let elapsedNs = Clock.monotonicNs() - started
            #expect(elapsedNs < 3_000_000_000, "took \(elapsedNs / 1_000_000) ms to stop")
            #expect(end.reason == "test")
            let intervals = records.withLock { $0 }.compactMap { if case .interval(let i) = $0 { i } else { nil } }
            for vcpu in 0..<2 {
                let mine = intervals.filter { $0.vcpu == vcpu }
                #expect(mine.count == 2, "one whole second, then the cut one")
                #expect(mine.last?.complete == false)
                #expect(mine.map(\.index) == Array(0..<mine.count))
            }
        }
    }
}
