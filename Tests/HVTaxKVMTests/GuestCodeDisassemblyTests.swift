import Foundation
import Testing

@testable import HVTaxKVM

/// The guest code is hand-assembled; binutils' disassembler checks that every instruction's
/// bytes are what its listing says.
@Suite("Hand-assembled guest code")
struct GuestCodeDisassemblyTests {
    static let objdump = ["/usr/bin/objdump", "/bin/objdump"].first { FileManager.default.isExecutableFile(atPath: $0) }

    struct Program: Sendable, CustomTestStringConvertible {
        let name: String
        let architecture: String
        let build: @Sendable () throws -> GuestProgram
        var testDescription: String { name }
    }

    static let programs: [Program] = [
        Program(name: "probe (vmmcall)", architecture: "i386:x86-64") {
            try ProbeGuestProgram.build(bodies: ProbeBody.guestKinds(hypercall: .vmmcall))
        },
        Program(name: "probe (vmcall)", architecture: "i386:x86-64") {
            try ProbeGuestProgram.build(bodies: ProbeBody.guestKinds(hypercall: .vmcall))
        },
        Program(name: "workload", architecture: "i386:x86-64") { try WorkloadGuestProgram.build() },
        Program(name: "real mode", architecture: "i8086") {
            var asm = GuestAssembler(loadAddress: GuestLayout.code)
            asm.emit([.movALImmediate(0x42), .outImmediate(port: GuestLayout.ioExitPort), .hlt])
            return try asm.finish()
        },
    ]

    @Test("objdump reads each instruction as its listing says", .enabled(if: objdump != nil, "objdump (binutils) is not installed"),
          arguments: programs)
    func matchesObjdump(_ program: Program) throws {
        let code = try program.build()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-guest-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).bin")
        try Data(code.bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try KVMTestSupport.run(Self.objdump!, [
            "-D", "-b", "binary", "-m", program.architecture, "-M", "intel",
            "--adjust-vma=0x\(String(code.loadAddress, radix: 16))", file.path,
        ])
        #expect(result.status == 0)
        // "    8000:\t0f 31                \trdtsc" (continuation lines of long instructions have no text).
        var disassembled: [UInt64: String] = [:]
        for line in result.output.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 3, let address = UInt64(fields[0].trimmingCharacters(in: .whitespaces).dropLast(), radix: 16)
            else { continue }
            disassembled[address] = fields[2].split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }
        for (address, instruction) in code.listing {
            let expected = instruction.text.split(separator: " ").joined(separator: " ")
            #expect(disassembled[address] == expected, "at 0x\(String(address, radix: 16))")
        }
    }

    @Test("the exception stubs and gates land where the IDT says")
    func exceptionStubs() throws {
        let memory = try GuestMemory(guestPhysicalAddress: 0, size: GuestLayout.memorySize)
        try memory.writeExceptionVectors()
        let gate = try memory.read(count: 16, at: GuestLayout.idt + 6 * 16)
        let target = UInt64(gate[0]) | UInt64(gate[1]) << 8 | UInt64(gate[6]) << 16 | UInt64(gate[7]) << 24
        #expect(target == GuestLayout.exceptionStubs + 6 * 8)
        #expect(gate[5] == 0x8E)
        #expect(try memory.read(count: 5, at: target) == [0xB0, 6, 0xE6, GuestLayout.exceptionPort, 0xF4])
    }
}
