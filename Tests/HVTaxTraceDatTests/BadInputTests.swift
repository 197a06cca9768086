import Testing
import HVTaxTrace
import HVTaxEvents

/// Writes a little-endian integer into a file image.
func poke(_ bytes: inout [UInt8], at offset: Int, _ value: UInt64, size: Int) {
    for i in 0..<size { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * i)) }
}

func firstIndex(of needle: String, in bytes: [UInt8]) -> Int? {
    let n = Array(needle.utf8)
    guard bytes.count >= n.count else { return nil }
    return (0...(bytes.count - n.count)).first { bytes[$0..<$0 + n.count].elementsEqual(n) }
}

/// The error a bad file gives, or nil when it reads.
func readError(_ bytes: [UInt8]) -> TraceReadError? {
    do {
        _ = try readAll(bytes, name: "bad.dat")
        return nil
    } catch let error as TraceReadError {
        return error
    } catch {
        Issue.record("not a TraceReadError: \(error)")
        return nil
    }
}

@Suite("trace.dat bad input")
struct BadInputTests {
    static func v6() throws -> [UInt8] { try write(Formats.metadata(), sampleCPUs(), version: .v6) }
    static func v7(_ c: TraceDatCompression) throws -> [UInt8] { try write(Formats.metadata(), sampleCPUs(), version: .v7(c)) }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var mutate: @Sendable () throws -> [UInt8]
        /// Words the message must contain (where and what).
        var expect: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "empty file", mutate: { [] }, expect: ["too short"]),
        Case(name: "wrong magic", mutate: {
            var b = try v6(); b[0] = 0x18; return b
        }, expect: ["byte offset 0", "not a trace.dat"]),
        Case(name: "a text trace", mutate: { Array("# tracer: nop\n#\n  qemu-1 [000] 1.0: kvm_exit: reason HLT\n".utf8) },
             expect: ["not a trace.dat"]),
        Case(name: "unsupported version 5", mutate: {
            var b = try v6(); b[10] = UInt8(ascii: "5"); return b
        }, expect: ["byte offset 10", "unsupported trace.dat version 5"]),
        Case(name: "unknown compression", mutate: {
            var b = try v7(.zstd)
            let at = firstIndex(of: "zstd", in: b)!
            b.replaceSubrange(at..<at + 4, with: Array("lz4x".utf8))
            return b
        }, expect: ["unknown compression \"lz4x\""]),
        Case(name: "truncated in the header", mutate: { Array(try v6().prefix(200)) }, expect: ["section '", "byte offset"]),
        // A file that ends inside its CPU data is read as far as it goes (TruncatedTraceDatTests).
        Case(name: "impossible header_page size", mutate: {
            var b = try v6()
            let at = firstIndex(of: "header_page\0", in: b)! + 12
            poke(&b, at: at, 1 << 60, size: 8)
            return b
        }, expect: ["section 'header info'", "header_page text of"]),
        Case(name: "impossible command lines size", mutate: {
            var b = try v6()
            let at = firstIndex(of: "1000 qemu-system-x86", in: b)! - 8
            poke(&b, at: at, UInt64(b.count) * 4, size: 8)
            return b
        }, expect: ["section 'command lines'", "runs past the end of the file"]),
        Case(name: "corrupted page: commit larger than a page", mutate: {
            var b = try v6()
            // The last CPU's page is the last 4096 bytes; its commit is at +8.
            poke(&b, at: b.count - 4096 + 8, 5000, size: 8)
            return b
        }, expect: ["cpu 1 data, page at byte offset", "a page holds 4080"]),
        Case(name: "corrupted record length", mutate: {
            var b = try v6()
            let page = b.count - 4096
            // CPU 1's first record becomes a long record (type_len 0) claiming 5000 bytes.
            poke(&b, at: page + 16, 0, size: 4)
            poke(&b, at: page + 20, 5000, size: 4)
            return b
        }, expect: ["cpu 1 data, page at byte offset", "runs past the page's data"]),
        Case(name: "zlib section that is not zlib", mutate: {
            var b = try v7(.zlib)
            let at = firstIndex(of: "7\0", in: b)! + 50
            for i in 0..<40 { b[at + i] ^= 0x5a }
            return b
        }, expect: ["byte offset"]),
        Case(name: "a chunk count that cannot fit", mutate: {
            var b = try v7(.zstd)
            // Claim 2^31 chunks for the first CPU.
            let cpu0 = try TraceDatFile(bytes: b, name: "x").cpuData[0].offset
            poke(&b, at: Int(cpu0), 1 << 31, size: 4)
            return b
        }, expect: ["compressed chunks cannot fit"]),
    ]

    @Test("bad files give a TraceReadError naming file, section and offset", arguments: cases)
    func badInput(_ c: Case) throws {
        let bytes = try c.mutate()
        let error = try #require(readError(bytes), "\(c.name) was read without error")
        #expect(error.file == "bad.dat")
        for word in c.expect {
            #expect(error.description.contains(word), "\(c.name): \(error.description)")
        }
    }
}
