import Foundation
import HVTaxHost
import HVTaxModel
import HVTaxRender
import Testing

@testable import HVTaxKVM

extension LiveKVM {
    /// The real `hvtax workload` process: its VM identity and its clean end on signals.
    @Suite("hvtax workload process")
    struct WorkloadProcess {
        struct Case: Sendable, CustomTestStringConvertible {
            let signal: Int32
            let name: String
            var testDescription: String { name }
        }

        @Test("looks like a VM and ends cleanly on the signal, truth complete",
              arguments: [Case(signal: SIGTERM, name: "SIGTERM"), Case(signal: SIGINT, name: "SIGINT")])
        func signalEndsCleanly(_ test: Case) throws {
            let binary = KVMTestSupport.hvtaxExecutable.path
            try #require(FileManager.default.isExecutableFile(atPath: binary), "build hvtax first: \(binary)")
            let name = "hvtax-e2e-\(getpid())-\(test.name)"
            let truth = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).jsonl").path
            defer { try? FileManager.default.removeItem(atPath: truth) }

            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["workload", "--vcpus", "2", "--schedule", "30%:1s,60%:1m", "--period", "50ms",
                                 "--truth-interval", "500ms", "--exits", "io:200/s", "--name", name, "--truth", truth]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            let pid = process.processIdentifier

            // Wait for the second phase to have written an interval (re-exec and VM setup included).
            var records: [WorkloadTruthRecord] = []
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let text = (try? String(contentsOfFile: truth, encoding: .utf8)) ?? ""
                records = (try? WorkloadTruthRenderer.records(fromJSONLines: text)) ?? []
                if records.contains(where: { if case .interval(let i) = $0 { i.phase == 1 } else { false } }) { break }
                usleep(100_000)
            }
            try #require(records.contains { if case .interval(let i) = $0 { i.phase == 1 } else { false } },
                         "no interval of the second phase within 20 s")

            // Discovery's view: guest=NAME in the command line, QEMU-style thread names.
            let cmdline = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
                .split(separator: "\0").map(String.init)
            #expect(cmdline.contains("guest=\(name),debug-threads=on"))
            #expect(zip(cmdline, cmdline.dropFirst()).contains { $0 == "-name" && $1.hasPrefix("guest=\(name),") })
            let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").compactMap {
                try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(threads.contains("hvtax"), "the re-executed process keeps its name (not \"exe\")")
            #expect(threads.contains("CPU 0/KVM"))
            #expect(threads.contains("CPU 1/KVM"))
            let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
            }
            #expect(fds.contains("anon_inode:kvm-vm"))
            // And hvtax's own VM discovery (hvtax snapshot/top) finds it, with its vCPU threads.
            let discovered = VMDiscovery(fs: .live).identify(pid: pid, comm: "hvtax", mounts: [])
            #expect(discovered?.kind == .hvtaxWorkload)
            #expect(discovered?.name == name)
            #expect(discovered?.vcpuThreads.map(\.vcpu) == [0, 1])
            if case .start(let start)? = records.first {
                #expect(discovered?.vcpuThreads.map(\.tid) == start.vcpus.map(\.tid))
            }

            kill(pid, test.signal)
            let stopDeadline = Date().addingTimeInterval(20)
            while process.isRunning && Date() < stopDeadline { usleep(20_000) }
            try #require(!process.isRunning, "hvtax workload did not end within 20 s of \(test.name)")
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 0)

            let final = try WorkloadTruthRenderer.records(fromJSONLines: String(contentsOfFile: truth, encoding: .utf8))
            guard case .start(let start)? = final.first, case .end(let end)? = final.last else {
                Issue.record("truth must begin with start and end with end")
                return
            }
            #expect(start.name == name)
            #expect(start.pid == pid)
            #expect(end.reason == test.name)
            let intervals = final.compactMap { if case .interval(let i) = $0 { i } else { nil } }
            for vcpu in 0..<2 {
                let mine = intervals.filter { $0.vcpu == vcpu }
                #expect(mine.last?.complete == false, "the cut interval is marked incomplete")
                #expect(mine.dropLast().allSatisfy { $0.complete })
                #expect(mine.map(\.index) == Array(0..<mine.count))
                #expect(mine.first?.requestedDuty == 0.3)
                #expect(mine.contains { $0.phase == 1 && $0.requestedDuty == 0.6 })
                let total = mine.reduce(WorkloadExitCounts()) { $0 + $1.exits }
                #expect(end.vcpus[vcpu].exits == total)
            }
        }

        /// An installed copy may carry a version in its name (`hvtax-1.2`): the kernel names the
        /// process after that file, and `hvtax snapshot`/`top` must still see the VM it runs.
        @Test("an hvtax installed under another name is still discovered as a VM, with its vCPU threads")
        func renamedExecutable() throws {
            let binary = KVMTestSupport.hvtaxExecutable.path
            try #require(FileManager.default.isExecutableFile(atPath: binary), "build hvtax first: \(binary)")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-renamed-\(getpid())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let copy = folder.appendingPathComponent("hvtax-1.2")
            try FileManager.default.copyItem(atPath: binary, toPath: copy.path)
            let name = "renamed-\(getpid())"
            let truth = folder.appendingPathComponent("truth.jsonl").path

            let process = Process()
            process.executableURL = copy
            process.arguments = ["workload", "--vcpus", "2", "--duty", "20%", "--duration", "1m", "--name", name, "--truth", truth]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            defer {
                if process.isRunning {
                    process.terminate()
                    process.waitUntilExit()
                }
            }
            let pid = process.processIdentifier
            // The truth's start record comes after the re-exec and the vCPU threads are running.
            let deadline = Date().addingTimeInterval(20)
            var started = false
            while Date() < deadline && !started {
                let text = (try? String(contentsOfFile: truth, encoding: .utf8)) ?? ""
                if case .start? = (try? WorkloadTruthRenderer.records(fromJSONLines: text))?.first { started = true } else { usleep(100_000) }
            }
            try #require(started, "hvtax-1.2 workload wrote no start record within 20 s")
            let comm = try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(comm == "hvtax-1.2", "the re-executed process keeps the copy's name")

            // What hvtax snapshot and top do: the sampler's discovery from /proc, then one sample.
            let sampler = LiveSampler(fs: .live)
            let sample = try sampler.sample()
            let vm = try #require(sampler.vms.first { $0.pid == pid }, "the renamed hvtax workload was not discovered")
            #expect(vm.kind == .hvtaxWorkload)
            #expect(vm.name == name)
            #expect(vm.vcpuThreads.map(\.vcpu) == [0, 1])
            for thread in vm.vcpuThreads { #expect(sample.threads[thread.tid] != nil, "no counters for \(thread.name)") }
        }
    }
}
