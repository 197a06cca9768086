import Testing
import HVTaxAnalysis
import HVTaxModel
import HVTaxTrace
import HVTaxEvents
#if canImport(Glibc)
import Glibc
#endif

/// A seeded random-mutation fuzzer over the trace.dat reader and the analysis behind it: flips, overwrites, truncates and
/// inserts bytes in valid files of every version, and reads and analyses each mutant to the end. Every outcome
/// must be events or a TraceReadError; a crash or a trap fails the run. Bounded in time so it runs
/// with the normal test suite (set HVTAX_FUZZ_SECONDS for a longer run).
@Suite("trace.dat fuzz")
struct FuzzTests {
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    static func seeds() throws -> [[UInt8]] {
        var cpus = sampleCPUs()
        // Add lost markers and long records so the mutations reach those paths too.
        var page = PageBuilder()
        page.startPage(time: 5, lost: .some(.some(9)))
        page.add(RecordBuilder.kvmExit(pid: 1001, reason: 12, isa: 1, vcpu: 0), time: 6, forceLong: true)
        page.absolute(1 << 40)
        page.add(RecordBuilder.irqEntry(pid: 0, irq: 3, name: "timer"), time: (1 << 40) + 1)
        cpus[0] += page.build()
        return try [TraceDatVersion.v6, .v7(.none), .v7(.zlib), .v7(.zstd)].map { try write(Formats.metadata(), cpus, version: $0) }
    }

    @Test("random mutations never crash the reader")
    func mutations() throws {
        let seconds = Double(getenvString("HVTAX_FUZZ_SECONDS") ?? "") ?? 3
        let seeds = try Self.seeds()
        var random = SplitMix(state: 0x4856_5441_5821)
        var runs = 0, errors = 0, clean = 0
        var windowed = AnalysisOptions()
        windowed.filters.since = 100
        windowed.filters.until = 1 << 62
        let start = Self.now()
        while Self.now() - start < seconds {
            var bytes = seeds[runs % seeds.count]
            for _ in 0...random.below(6) {
                switch random.below(6) {
                case 0: bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
                case 1: bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
                case 2:
                    // A plausible-looking big number where a size or offset may be.
                    let at = random.below(bytes.count - 8)
                    let value: UInt64 = [0xffff_ffff, 1 << 31, UInt64(bytes.count), 0x7fff_ffff_ffff_ffff, 4096][random.below(5)]
                    poke(&bytes, at: at, value, size: [2, 4, 8][random.below(3)])
                case 3: bytes = Array(bytes.prefix(random.below(bytes.count)))
                case 4: bytes.insert(contentsOf: [UInt8](repeating: UInt8(truncatingIfNeeded: random.next()), count: random.below(16)), at: random.below(bytes.count))
                default:
                    // Damage inside the ring-buffer pages, where most of a real file is.
                    let at = bytes.count - 1 - random.below(min(bytes.count, 8192))
                    bytes[at] = UInt8(truncatingIfNeeded: random.next())
                }
                if bytes.count < 16 { break }
            }
            do {
                // Through the analysis too: damaged times (late records, a clock near its top)
                // reach the state machine, and a trap there kills the process as surely.
                let symbols = SymbolTable()
                let reader = try TraceDatReader(bytes: bytes, name: "fuzz.dat", symbols: symbols)
                let analyzer = TraceAnalyzer(symbols: symbols, options: runs % 2 == 0 ? AnalysisOptions() : windowed)
                while let event = try reader.next() { analyzer.consume(event) }
                _ = analyzer.report(sources: [reader.source], clock: reader.clock, generator: "fuzz")
                clean += 1
            } catch {
                errors += 1
            }
            runs += 1
        }
        print("fuzz: \(runs) mutants in \(seconds) s: \(clean) read, \(errors) rejected with TraceReadError")
        #expect(runs > 100)
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}

func getenvString(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}
