import Foundation
import Testing

@testable import HVTaxKVM

extension LiveKVM {
    /// hvtax's reader against an independent Python reader of the very same fds.
    @Suite("KVM statistics: cross-check with an independent reader")
    struct StatsCrossCheck {
        struct PythonDescriptor: Decodable {
            let name: String
            let flags: UInt32
            let exponent: Int16
            let size: Int
            let offset: Int
            let bucket_size: UInt32
            let values: [UInt64]
        }

        struct PythonStats: Decodable {
            let flags: UInt32
            let name_size: Int
            let id: String
            let data_offset: Int
            let descriptors: [PythonDescriptor]
        }

        static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("kvm_stats_reader.py").path

        func readWithPython(fd: Int32) throws -> PythonStats {
            let result = try KVMTestSupport.run("/usr/bin/env", ["python3", Self.script, String(getpid()), String(fd)])
            try #require(result.status == 0, "the Python reader failed (python3 with pidfd_getfd, Linux 5.6+, is needed)")
            return try JSONDecoder().decode(PythonStats.self, from: Data(result.output.utf8))
        }

        func compare(_ reader: KVMStatsReader, _ sample: KVMStatsSample, with python: PythonStats) {
            #expect(python.id == reader.schema.id)
            #expect(python.name_size == reader.schema.nameSize)
            #expect(python.data_offset == reader.schema.dataOffset)
            #expect(python.descriptors.count == reader.schema.descriptors.count)
            for (theirs, ours) in zip(python.descriptors, reader.schema.descriptors) {
                #expect(theirs.name == ours.name)
                #expect(theirs.flags == ours.flags, "\(ours.name) flags")
                #expect(theirs.exponent == ours.exponent, "\(ours.name) exponent")
                #expect(theirs.size == ours.size, "\(ours.name) size")
                #expect(theirs.offset == ours.offset, "\(ours.name) offset")
                #expect(theirs.bucket_size == ours.bucketSize, "\(ours.name) bucket size")
                #expect(theirs.values == Array(sample.raw(ours)), "\(ours.name) values")
            }
        }

        @Test("VM and vCPU stats fds read the same in Swift and in Python, after real exits")
        func vmAndVCPU() throws {
            let device = try KVMDevice()
            let bodies = ProbeBody.guestKinds(hypercall: .vmcall)
            let program = try ProbeGuestProgram.build(bodies: bodies)
            let machine = try GuestMachine(device: device, program: program, vcpuCount: 1, mode: .long64,
                                           entry: ProbeGuestProgram.sampleLabel(.hlt)) { _, regs in
                regs.r8 = 50
                regs.rdi = GuestLayout.samples
                regs.rsi = GuestLayout.mmioAddress(ofVCPU: 0)
            }
            let vcpu = machine.vcpus[0]
            // Give the counters and the halt histograms something to hold: 50 HLT exits, then DONE.
            var halts = 0
            while true {
                let exit = try vcpu.run()
                if exit == .hlt { halts += 1; continue }
                #expect(exit == .io(port: UInt16(GuestLayout.donePort), isOut: true, size: 1, count: 1,
                                    value: exit.outValue ?? 0))
                break
            }
            #expect(halts == 50)

            // The vCPU is stopped, so its counters hold still while both readers look.
            let vcpuStats = try vcpu.statistics()
            let vcpuSample = try vcpuStats.sample()
            compare(vcpuStats, vcpuSample, with: try readWithPython(fd: vcpuStats.fileDescriptor))
            #expect(vcpuSample.scalar("halt_exits") == 50)

            let vmStats = try machine.vm.statistics()
            let vmSample = try vmStats.sample()
            compare(vmStats, vmSample, with: try readWithPython(fd: vmStats.fileDescriptor))

            // Typed values on a real kernel: counts, booleans, durations, log histograms, peaks.
            #expect(vcpuSample["halt_exits"] == .cumulative(.count(50)))
            if let blocking = vcpuSample["blocking"] { #expect(blocking == .instant(.boolean(false))) }
            if case .cumulative(let wait)? = vcpuSample["halt_wait_ns"] {
                guard case .duration = wait else { Issue.record("halt_wait_ns is not a duration: \(wait)"); return }
            }
            if case .histogram(let histogram)? = vcpuSample["halt_wait_hist"] {
                #expect(histogram.buckets == .logarithmic)
                #expect(histogram.unit == .seconds)
            }
            let kinds = Set(vcpuStats.schema.descriptors.map(\.kind) + vmStats.schema.descriptors.map(\.kind))
            #expect(kinds.contains(.cumulative) && kinds.contains(.instant))
            print("HVTaxKVMTests: stats cross-check covered \(vcpuStats.schema.descriptors.count) vCPU and "
                + "\(vmStats.schema.descriptors.count) VM descriptors of kinds \(kinds)")
        }
    }
}

extension KVMExit {
    var outValue: UInt32? {
        if case .io(_, true, _, _, let value) = self { return value }
        return nil
    }
}
