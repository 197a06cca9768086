import HVTaxHost
import HVTaxModel
import Testing

/// The sample's thread table answers as a dictionary would, whatever order it was filled and is
/// walked in; the analyzer's figures do not depend on either order.
@Suite("thread counter table")
struct ThreadCounterTableTests {
    struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }

        mutating func shuffle<T>(_ a: inout [T]) {
            guard a.count > 1 else { return }
            for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, next(i + 1)) }
        }
    }

    static func counters(_ tid: Int32) -> ThreadCounters {
        var c = ThreadCounters()
        c.onCPUNs = UInt64(tid) * 1_000
        c.lastCPU = Int(tid % 64)
        return c
    }

    @Test("a walk in read order hits at the cursor; any other order, added, replaced and removed tids answer as a dictionary")
    func answersAsADictionary() {
        var random = Random(state: 0x2545_f491_4f6c_dd1d)
        for _ in 0..<300 {
            let n = random.next(40)
            var tids = Set<Int32>()
            while tids.count < n { tids.insert(Int32(1 + random.next(500))) }
            var order = Array(tids)
            random.shuffle(&order)
            var table = ThreadCounterTable()
            var truth: [Int32: ThreadCounters] = [:]
            for tid in order {
                table.append(tid, Self.counters(tid))
                truth[tid] = Self.counters(tid)
            }
            // The same order: every lookup at the cursor.
            var cursor = ThreadCounterTable.Cursor()
            for tid in order { #expect(table.counters(of: tid, cursor: &cursor) == truth[tid]) }
            // Changes through the subscript: replace, remove, add.
            for _ in 0..<random.next(6) {
                let tid = Int32(1 + random.next(520))
                switch random.next(3) {
                case 0:
                    table[tid] = nil
                    truth[tid] = nil
                case 1:
                    var c = Self.counters(tid)
                    c.runDelayNs = 7
                    table[tid] = c
                    truth[tid] = c
                default:
                    table[tid] = Self.counters(tid)
                    truth[tid] = Self.counters(tid)
                }
            }
            #expect(table.count == truth.count)
            // Another order, with tids the table never had.
            var asked = order + (0..<5).map { _ in Int32(600 + random.next(50)) }
            random.shuffle(&asked)
            var walk = ThreadCounterTable.Cursor()
            for tid in asked {
                #expect(table.counters(of: tid, cursor: &walk) == truth[tid])
                #expect(table[tid] == truth[tid])
            }
        }
        let fromDictionary = ThreadCounterTable([30: Self.counters(30), 10: Self.counters(10), 20: Self.counters(20)])
        #expect(fromDictionary.tids == [10, 20, 30])
    }

    @Test("the analyzer gives the same snapshot whatever order the samples' threads are in")
    func analyzerIgnoresOrder() throws {
        let vms = [AnalyzerTests.vm(100, "a", vcpus: [101, 102, 103]), AnalyzerTests.vm(200, "b", vcpus: [201, 202])]
        func sample(_ t: UInt64, _ tids: [Int32]) -> HostSample {
            var s = HostSample(monotonicNs: t * 1_000_000_000, realtimeNs: t * 1_000_000_000)
            for tid in tids {
                var c = ThreadCounters()
                c.onCPUNs = t * UInt64(tid) * 1_000_000
                c.runDelayNs = t * UInt64(tid) * 10_000
                c.lastCPU = Int(tid % 4)
                s.threads.append(tid, c)
            }
            return s
        }
        let readOrder: [Int32] = [101, 102, 103, 201, 202]
        var inOrder = AnalyzerTests.analyzer()
        _ = inOrder.add(sample(1, readOrder), vms: vms)
        let expectedSnapshot = inOrder.add(sample(2, readOrder), vms: vms)
        let expected = try #require(expectedSnapshot)
        // 102 missing from the first sample (a thread that started in the interval) and both
        // samples in other orders.
        var shuffled = AnalyzerTests.analyzer()
        _ = shuffled.add(sample(1, [202, 103, 101, 201]), vms: vms)
        let gotSnapshot = shuffled.add(sample(2, [201, 101, 202, 102, 103]), vms: vms)
        let got = try #require(gotSnapshot)
        var expectedWithout102 = AnalyzerTests.analyzer()
        _ = expectedWithout102.add(sample(1, [101, 103, 201, 202]), vms: vms)
        let truthSnapshot = expectedWithout102.add(sample(2, readOrder), vms: vms)
        let truth = try #require(truthSnapshot)
        #expect(got == truth)
        #expect(expected.vms.first { $0.name == "a" }?.vcpus.count == 3)
        #expect(got.vms.first { $0.name == "a" }?.vcpus.count == 2, "102 has no counters at the interval's start")
        #expect(got.vms.first { $0.name == "b" } == expected.vms.first { $0.name == "b" })
    }
}
