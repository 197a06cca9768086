import Foundation
import Testing
import HVTaxModel
import HVTaxEvents
import HVTaxTrace
import HVTaxTracefs

/// `trace-cmd report` prints kvm_exit through libtraceevent's kvm plugin, whose names are its own:
/// every SVM reason as `EXIT_*` (`EXIT_NPF`, `EXIT_IOIO`), VMX 7 as `PENDING_INTERRUPT`. The ground
/// truth here is Debian's trace-cmd itself: a trace.dat holding one kvm_exit of every code in the
/// kernel's tables, printed by trace-cmd, read back by hvtax.
@Suite("exit reasons as trace-cmd's kvm plugin names them")
struct PluginReasonNameTests {
    @Test("every exit code trace-cmd names reads as the kernel's name for it", arguments: [ISA.vmx, .svm])
    func everyCode(isa: ISA) throws {
        guard which("trace-cmd") != nil else {
            print("skipped: trace-cmd is not installed (apt-get install trace-cmd)")
            return
        }
        let table = isa == .vmx ? ExitReasonTable.vmx : ExitReasonTable.svm
        let codes = table.keys.sorted()
        let base = FileManager.default.temporaryDirectory.path + "/hvtax-plugin-names-\(getpid())-\(isa)"
        defer {
            try? FileManager.default.removeItem(atPath: base + ".dat")
            try? FileManager.default.removeItem(atPath: base + ".txt")
        }
        // The kernel's records: the encoder writes each name's code and ISA, as kvm_exit holds them.
        let writing = SymbolTable()
        let encoder = TraceDatEncoder(symbols: writing)
        let thread = writing.names.intern("CPU 0/KVM")
        var time: UInt64 = 1_000_000_000
        for code in codes {
            time += 1000
            try encoder.add(TraceEvent(time: time, kind: .kvmEntry, cpu: 0, tid: 1001, tgid: 1000, vcpu: 0, comm: thread))
            time += 1000
            try encoder.add(TraceEvent(time: time, kind: .kvmExit, cpu: 0, tid: 1001, tgid: 1000, vcpu: 0,
                                       code: writing.reason(code: code, isa: isa), comm: thread))
        }
        try encoder.finish(to: try TraceDatOutput(path: base + ".dat"))
        #expect(encoder.skippedUnknownReason == 0)
        let (status, text) = try #require(try run(["trace-cmd", "report", base + ".dat"]))
        #expect(status == 0)
        try text.write(toFile: base + ".txt", atomically: true, encoding: .utf8)
        // What the plugin printed for each code, in order.
        let printed = text.split(separator: "\n").compactMap { line -> String? in
            guard let at = line.range(of: "kvm_exit:"), let reason = line[at.upperBound...].range(of: "reason "),
                  let rip = line.range(of: " rip ", range: reason.upperBound..<line.endIndex) else { return nil }
            return String(line[reason.upperBound..<rip.lowerBound])
        }
        #expect(printed.count == codes.count)

        let symbols = SymbolTable()
        let stream = try TraceInputs.open(base + ".txt", symbols: symbols)
        var read: [String] = []
        while let event = try stream.next() {
            if event.kind == .kvmExit { read.append(symbols.reasons.string(event.code)) }
        }
        #expect(read.count == codes.count)

        var renamed = 0, unnamed: [UInt32] = []
        for (index, code) in codes.enumerated() where index < min(printed.count, read.count) {
            if printed[index].hasPrefix("UNKNOWN") {
                // A code newer than the plugin's table: it says so, and hvtax keeps what it printed.
                unnamed.append(code)
                #expect(read[index] == printed[index])
                #expect(!ExitReasonTable.isKnown(read[index]))
                continue
            }
            #expect(read[index] == table[code], "code \(code): trace-cmd printed \(printed[index]), read as \(read[index])")
            #expect(ExitReasonTable.isa(ofName: read[index]) == isa)
            if printed[index] != table[code] { renamed += 1 }
        }
        print("\(isa): \(codes.count) codes, \(renamed) printed under the plugin's own name, \(unnamed.count) unknown to the plugin")
        // The point of the test: on AMD the plugin renames every code it knows, on Intel one.
        #expect(renamed == (isa == .svm ? codes.count - unnamed.count : 1))
    }
}
