import Foundation
import HVTaxModel
import HVTaxPipeline
import Synchronization
import Testing

@testable import HVTaxKVM

extension LiveKVM {
    /// A guest performing a known number of exits of each kind, checked against what the kernel
    /// counted: the vCPU's stats fd and the kvm tracepoints of a tracefs instance of our own.
    @Suite("Guest exits counted by the kernel")
    struct GuestExitCounts {
        struct Counted: Sendable {
            var stats: [String: [String: Int64]] = [:]
            var tid: Int32 = 0
            var instructions: [String: UInt64] = [:]
        }

        /// Runs `sample.K` with `iterations` on a `CPU 0/KVM` thread, answering every exit.
        /// `beforeRunning` gets the thread's tid before it creates its VM (to attach counters to it).
        static func runLoops(_ plan: [(ProbeBody, UInt64)], beforeRunning: (Int32) throws -> Void = { _ in }) throws -> Counted {
            let result = Mutex<Result<Counted, KVMError>?>(nil)
            let gate = DispatchSemaphore(value: 0)
            let thread = try VCPUThread(name: VCPUThread.vmmName(ofVCPU: 0)) {
                gate.wait()
                do throws(KVMError) {
                    let device = try KVMDevice()
                    let program = try ProbeGuestProgram.build(bodies: plan.map(\.0))
                    let machine = try GuestMachine(device: device, program: program, vcpuCount: 1, mode: .long64,
                                                   entry: ProbeGuestProgram.sampleLabel(plan[0].0.kind))
                    let vcpu = machine.vcpus[0]
                    let stats = try vcpu.statistics()
                    var counted = Counted()
                    for (body, iterations) in plan {
                        var regs = try vcpu.registers()
                        regs.rip = program.address(of: ProbeGuestProgram.sampleLabel(body.kind))
                        regs.r8 = iterations
                        regs.rdi = GuestLayout.samples
                        regs.rsi = GuestLayout.mmioAddress(ofVCPU: 0)
                        try vcpu.setRegisters(regs)
                        let before = try stats.sample()
                        loop: while true {
                            switch try vcpu.run() {
                            case .io(UInt16(GuestLayout.donePort), true, _, _, _): break loop
                            case .io(UInt16(GuestLayout.ioExitPort), true, _, _, _), .mmio(_, _, true, _), .hlt: continue
                            case let other: throw KVMError.unexpectedExit(operation: "exit count test", exit: other.name)
                            }
                        }
                        counted.stats[body.kind.rawValue] = try stats.sample().cumulativeDeltas(since: before)
                        counted.instructions[body.kind.rawValue] = ProbeGuestProgram.sampleInstructions(
                            body, iterations: iterations)
                    }
                    result.withLock { $0 = .success(counted) }
                } catch {
                    result.withLock { $0 = .failure(error) }
                }
            }
            do {
                try beforeRunning(thread.tid)
            } catch {
                gate.signal()
                thread.join()
                throw error
            }
            gate.signal()
            thread.join()
            var counted = try #require(result.withLock { $0 }).get()
            counted.tid = thread.tid
            return counted
        }

        @Test("port I/O, MMIO, HLT and CPUID exits: the exact counts in stats and tracepoints")
        func exactCounts() throws {
            let io: UInt64 = 300, mmio: UInt64 = 200, halts: UInt64 = 100, cpuids: UInt64 = 400
            let all = ProbeBody.guestKinds(hypercall: .vmcall)
            func body(_ kind: ProbeKind) -> ProbeBody { all.first { $0.kind == kind }! }
            let events = ["kvm/kvm_userspace_exit", "kvm/kvm_pio", "kvm/kvm_mmio", "kvm/kvm_cpuid"]
            let (counted, traced, lost, text) = try TracefsTestSupport.record(events: events, bufferKBPerCPU: 4096) { trace in
                let counted = try Self.runLoops([(body(.portIO), io), (body(.mmio), mmio), (body(.hlt), halts),
                                                 (body(.cpuid), cpuids)])
                try trace.stopRecording()
                let text = try trace.text()
                let traced = TracefsTestSupport.countByTask(text) { event, body in
                    switch event {
                    case "kvm_pio": String(body.prefix { $0 != " " }) + " 0x" + (body.firstRange(of: "at 0x").map {
                        String(body[$0.upperBound...].prefix { $0 != " " }) } ?? "?")
                    case "kvm_mmio": String(body.split(separator: " ").prefix(2).joined(separator: " "))
                    case "kvm_cpuid": String(body.split(separator: " ").prefix(2).joined(separator: " "))
                    default: String(body)
                    }
                }
                return (counted, traced[counted.tid] ?? [:], try trace.lostEvents(), text)
            }
            #expect(lost == 0, "the trace buffer overflowed")

            // Stats fd: the counters KVM keeps for exits to userspace.
            #expect(counted.stats["mmio"]?["mmio_exits"] == Int64(mmio))
            #expect(counted.stats["hlt"]?["halt_exits"] == Int64(halts))
            // Every loop ends with one OUT to the DONE port: a userspace exit too.
            #expect((counted.stats["portIO"]?["exits"] ?? 0) >= Int64(io + 1))
            #expect((counted.stats["mmio"]?["exits"] ?? 0) >= Int64(mmio + 1))
            #expect((counted.stats["hlt"]?["exits"] ?? 0) >= Int64(halts + 1))

            let emulating = (counted.stats["cpuid"]?["insn_emulation"] ?? 0) > 0
            if emulating {
                // Where KVM emulates the guest, it counts every instruction: exactly what the loops executed.
                for (kind, instructions) in counted.instructions {
                    #expect(counted.stats[kind]?["insn_emulation"] == Int64(instructions), "\(kind) instructions")
                }
                // The emulation path does not pass the VMX/SVM I/O intercept, which is what counts io_exits.
                #expect(counted.stats["portIO"]?["io_exits"] == nil)
            } else {
                #expect(counted.stats["portIO"]?["io_exits"] == Int64(io + 1))
            }

            // Tracepoints, per exit kind, for this vCPU thread only.
            let userspace = traced["kvm_userspace_exit"] ?? [:]
            #expect(userspace["reason KVM_EXIT_IO (2)"] == Int(io + 4), "OUTs plus four DONE writes")
            #expect(userspace["reason KVM_EXIT_MMIO (6)"] == Int(mmio))
            #expect(userspace["reason KVM_EXIT_HLT (5)"] == Int(halts))
            #expect(traced["kvm_pio"]?["pio_write 0xf0"] == Int(io))
            #expect(traced["kvm_pio"]?["pio_write 0xf1"] == 4)
            #expect(traced["kvm_mmio"]?["mmio write"] == Int(mmio))
            #expect(traced["kvm_cpuid"]?["func 0"] == Int(cpuids))

            // hvtax report's port I/O and MMIO table of the same trace, for this vCPU thread: the
            // loops' exact counts at their addresses, every one through the VMM (this test answers them).
            let path = FileManager.default.temporaryDirectory.path + "/hvtax-exit-count-\(getpid()).txt"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let report = try TraceReportPipeline.run(paths: [path])
            let vcpu = try #require(report.vms.flatMap(\.vcpus).first { $0.tid == counted.tid }, "the vCPU thread is not in the report")
            let table = (vcpu.exits.accesses ?? []).map { "\($0.key) \($0.count) \($0.throughVMM ?? 0)" }
            #expect(Set(table) == ["0xf0:POUT \(io) \(io)", "0xf1:POUT 4 4",
                                   "0x\(String(GuestLayout.mmioAddress(ofVCPU: 0), radix: 16)):W \(mmio) \(mmio)"])
        }

        @Test("a real-mode guest runs: OUT with its value, then HLT")
        func realMode() throws {
            var asm = GuestAssembler(loadAddress: GuestLayout.code)
            asm.label("start")
            // The same encodings mean the same in 16-bit mode: mov al,0x42; out 0xf0,al; hlt.
            asm.emit([.movALImmediate(0x42), .outImmediate(port: GuestLayout.ioExitPort), .hlt])
            let program = try asm.finish()
            let machine = try GuestMachine(device: try KVMDevice(), program: program, vcpuCount: 1, mode: .real,
                                           entry: "start")
            let vcpu = machine.vcpus[0]
            #expect(try vcpu.run() == .io(port: UInt16(GuestLayout.ioExitPort), isOut: true, size: 1, count: 1, value: 0x42))
            #expect(try vcpu.run() == .hlt)
            #expect(try vcpu.instructionPointer() == GuestLayout.code + 5)
        }

        @Test("an exception in the guest is reported as its vector, not a silent hang")
        func exceptionVector() throws {
            var asm = GuestAssembler(loadAddress: GuestLayout.code)
            asm.label("start")
            // 0F 0B: UD2, the architecturally undefined instruction: vector 6 (#UD).
            asm.emit(X86Instruction([0x0F, 0x0B], "ud2"))
            let program = try asm.finish()
            let machine = try GuestMachine(device: try KVMDevice(), program: program, vcpuCount: 1, mode: .long64,
                                           entry: "start")
            let exit = try machine.vcpus[0].run()
            let rip = try machine.vcpus[0].instructionPointer()
            #expect(exit == .io(port: UInt16(GuestLayout.exceptionPort), isOut: true, size: 1, count: 1, value: 6),
                    "rip 0x\(String(rip, radix: 16))")
        }

        @Test("a kick ends KVM_RUN promptly, even inside an endless guest loop")
        func kick() throws {
            var asm = GuestAssembler(loadAddress: GuestLayout.code)
            asm.label("start")
            asm.branch(.jmp, to: "start")
            let program = try asm.finish()
            let machine = try GuestMachine(device: try KVMDevice(), program: program, vcpuCount: 1, mode: .long64,
                                           entry: "start")
            let vcpu = machine.vcpus[0]
            let exit = Mutex<KVMExit?>(nil)
            let thread = try VCPUThread(name: "CPU 0/KVM") {
                vcpu.bindToCurrentThread()
                let result = try? vcpu.run()
                exit.withLock { $0 = result }
            }
            usleep(200_000)
            let kickedAt = Clock.monotonicNs()
            vcpu.kick()
            thread.join()
            let latencyNs = Clock.monotonicNs() - kickedAt
            #expect(exit.withLock { $0 } == .interrupted)
            #expect(latencyNs < 500_000_000, "KVM_RUN took \(latencyNs / 1_000_000) ms to return after the kick")
            vcpu.clearKick()
        }
    }
}
