import CKVM
import Testing

@testable import HVTaxKVM

/// Builds a statistics block the way the kernel lays it out, with the blocks placed where asked.
struct SyntheticStats {
    struct Entry {
        var name: String
        var flags: UInt32
        var exponent: Int16
        var values: [UInt64]
        var bucketSize: UInt32 = 0
    }

    var entries: [Entry]
    var nameSize = 48
    var idOffset = 24
    var descriptorOffset = 72
    /// Where the data block starts; nil puts it right after the descriptors.
    var dataOffset: Int?
    /// Value offsets inside the data block, in descriptor order; nil packs them in order.
    var valueOffsets: [Int]?

    func bytes() -> (bytes: [UInt8], dataOffset: Int) {
        let stride = 16 + nameSize
        let data = dataOffset ?? (descriptorOffset + stride * entries.count + 7) / 8 * 8
        var offsets: [Int] = []
        var next = 0
        for entry in entries {
            offsets.append(next)
            next += 8 * entry.values.count
        }
        let placed = valueOffsets ?? offsets
        let end = data + (zip(placed, entries).map { $0 + 8 * $1.values.count }.max() ?? 0)
        var bytes = [UInt8](repeating: 0, count: end)
        func put32(_ value: UInt32, _ at: Int) { for i in 0..<4 { bytes[at + i] = UInt8((value >> (8 * i)) & 0xFF) } }
        func put16(_ value: UInt16, _ at: Int) { for i in 0..<2 { bytes[at + i] = UInt8((value >> (8 * i)) & 0xFF) } }
        func put64(_ value: UInt64, _ at: Int) { for i in 0..<8 { bytes[at + i] = UInt8((value >> (8 * i)) & 0xFF) } }
        for (index, value) in [0, UInt32(nameSize), UInt32(entries.count), UInt32(idOffset), UInt32(descriptorOffset),
                               UInt32(data)].enumerated() {
            put32(value, index * 4)
        }
        for (index, byte) in "kvm-42/vcpu-0".utf8.enumerated() { bytes[idOffset + index] = byte }
        for (index, entry) in entries.enumerated() {
            let base = descriptorOffset + index * stride
            put32(entry.flags, base)
            put16(UInt16(bitPattern: entry.exponent), base + 4)
            put16(UInt16(entry.values.count), base + 6)
            put32(UInt32(placed[index]), base + 8)
            put32(entry.bucketSize, base + 12)
            for (offset, byte) in entry.name.utf8.enumerated() { bytes[base + 16 + offset] = byte }
            for (slot, value) in entry.values.enumerated() { put64(value, data + placed[index] + 8 * slot) }
        }
        return (bytes, data)
    }

    func sample() throws -> KVMStatsSample {
        let (bytes, data) = bytes()
        let schema = try KVMStatsSchema.parse { (offset, count) throws(KVMError) in
            guard offset + count <= bytes.count else { throw .malformedStats(offset: offset, expected: "\(count) bytes") }
            return Array(bytes[offset..<(offset + count)])
        }
        var words: [UInt64] = []
        for index in 0..<(schema.dataSize / 8) {
            let at = data + index * 8
            words.append((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) })
        }
        return KVMStatsSample(schema: schema, words: words)
    }
}

@Suite("KVM binary statistics decoding")
struct KVMStatsSchemaTests {
    /// One row per descriptor type, unit, base and exponent combination the ABI defines.
    struct Row: CustomTestStringConvertible, Sendable {
        let flags: UInt32
        let exponent: Int16
        let values: [UInt64]
        let bucketSize: UInt32
        let expected: KVMStatValue
        var testDescription: String { "flags 0x\(String(flags, radix: 16)) exp \(exponent)" }
    }

    static let rows: [Row] = [
        Row(flags: 0x00, exponent: 0, values: [42], bucketSize: 0, expected: .cumulative(.count(42))),
        Row(flags: 0x01, exponent: 0, values: [7], bucketSize: 0, expected: .instant(.count(7))),
        Row(flags: 0x02, exponent: 0, values: [99], bucketSize: 0, expected: .peak(.count(99))),
        Row(flags: 0x41, exponent: 0, values: [1], bucketSize: 0, expected: .instant(.boolean(true))),
        Row(flags: 0x41, exponent: 0, values: [0], bucketSize: 0, expected: .instant(.boolean(false))),
        Row(flags: 0x20, exponent: -9, values: [1_500_000_000], bucketSize: 0,
            expected: .cumulative(.duration(.nanoseconds(1_500_000_000)))),
        Row(flags: 0x20, exponent: -6, values: [3], bucketSize: 0, expected: .cumulative(.duration(.microseconds(3)))),
        Row(flags: 0x20, exponent: 0, values: [2], bucketSize: 0, expected: .cumulative(.duration(.seconds(2)))),
        Row(flags: 0x11, exponent: 0, values: [4096], bucketSize: 0, expected: .instant(.bytes(4096))),
        // Pages of 4 KiB expressed as bytes x 2^12.
        Row(flags: 0x111, exponent: 12, values: [3], bucketSize: 0, expected: .instant(.bytes(3 * 4096))),
        Row(flags: 0x10, exponent: 3, values: [5], bucketSize: 0, expected: .cumulative(.bytes(5000))),
        Row(flags: 0x30, exponent: 0, values: [123_456], bucketSize: 0, expected: .cumulative(.cycles(123_456))),
        Row(flags: 0x30, exponent: -3, values: [1500], bucketSize: 0, expected: .cumulative(.scaled(1.5, unit: .cycles))),
        Row(flags: 0x03, exponent: 0, values: [1, 2, 3, 4], bucketSize: 10,
            expected: .histogram(KVMStatHistogram(buckets: .linear(widthRaw: 10), unit: .none, base: .powerOf10,
                                                  exponent: 0, counts: [1, 2, 3, 4]))),
        Row(flags: 0x24, exponent: -9, values: [0, 5, 0, 9], bucketSize: 0,
            expected: .histogram(KVMStatHistogram(buckets: .logarithmic, unit: .seconds, base: .powerOf10,
                                                  exponent: -9, counts: [0, 5, 0, 9]))),
        Row(flags: 0x07, exponent: 0, values: [8, 9], bucketSize: 0, expected: .raw([8, 9])),
    ]

    @Test("every descriptor type, unit, base and exponent decodes to its typed value", arguments: rows)
    func decodes(_ row: Row) throws {
        let stats = SyntheticStats(entries: [
            .init(name: "first", flags: 0, exponent: 0, values: [1]),
            .init(name: "probe", flags: row.flags, exponent: row.exponent, values: row.values, bucketSize: row.bucketSize),
        ])
        let sample = try stats.sample()
        #expect(sample.schema.id == "kvm-42/vcpu-0")
        #expect(sample["probe"] == row.expected)
        #expect(sample["first"] == .cumulative(.count(1)))
    }

    @Test("blocks are found through their offsets, not assumed adjacent or in order")
    func offsetsRespected() throws {
        var stats = SyntheticStats(entries: [
            .init(name: "a", flags: 0, exponent: 0, values: [11]),
            .init(name: "b", flags: 2, exponent: 0, values: [22]),
            .init(name: "hist", flags: 0x24, exponent: -9, values: [1, 2, 3]),
        ])
        stats.idOffset = 32
        stats.descriptorOffset = 128
        stats.dataOffset = 1024
        // Values stored in reverse order with a gap, as max_mmu_rmap_size/max_mmu_page_hash_collisions are.
        stats.valueOffsets = [64, 40, 0]
        let sample = try stats.sample()
        #expect(sample.scalar("a") == 11)
        #expect(sample.scalar("b") == 22)
        #expect(sample["b"] == .peak(.count(22)))
        if case .histogram(let histogram) = sample["hist"] {
            #expect(histogram.counts == [1, 2, 3])
            #expect(histogram.range(ofBucket: 0) == (0, 1e-9))
            #expect(histogram.range(ofBucket: 2).lower == 2e-9)
            #expect(histogram.range(ofBucket: 2).upper == 4e-9)
        } else {
            Issue.record("hist did not decode as a histogram")
        }
        #expect(sample.schema.dataSize == 72)
    }

    @Test("linear histogram buckets cover [width x i, width x (i+1))")
    func linearRanges() {
        let histogram = KVMStatHistogram(buckets: .linear(widthRaw: 50), unit: .seconds, base: .powerOf10, exponent: -9,
                                         counts: [0, 0, 0])
        #expect(abs(histogram.range(ofBucket: 2).lower - 100e-9) < 1e-18)
        #expect(abs(histogram.range(ofBucket: 2).upper - 150e-9) < 1e-18)
    }

    @Test("a misaligned block offset is reported with its byte offset")
    func misaligned() throws {
        var stats = SyntheticStats(entries: [.init(name: "a", flags: 0, exponent: 0, values: [1])])
        stats.descriptorOffset = 76
        #expect(throws: KVMError.malformedStats(offset: 16, expected: "an 8-byte aligned block offset, found 76")) {
            _ = try stats.sample()
        }
    }

    @Test("cumulative deltas cover only scalar cumulative statistics that moved")
    func deltas() throws {
        let before = try SyntheticStats(entries: [
            .init(name: "exits", flags: 0, exponent: 0, values: [10]),
            .init(name: "blocking", flags: 0x41, exponent: 0, values: [0]),
            .init(name: "quiet", flags: 0, exponent: 0, values: [5]),
        ]).sample()
        let after = try SyntheticStats(entries: [
            .init(name: "exits", flags: 0, exponent: 0, values: [17]),
            .init(name: "blocking", flags: 0x41, exponent: 0, values: [1]),
            .init(name: "quiet", flags: 0, exponent: 0, values: [5]),
        ]).sample()
        #expect(after.cumulativeDeltas(since: before) == ["exits": 7])
    }

    @Test("the Swift flag decoding agrees with <linux/kvm.h>")
    func flagsMatchKernelHeader() {
        #expect(KVMStatKind(flags: CKVM_STATS_TYPE_LINEAR_HIST) == .linearHistogram)
        #expect(KVMStatKind(flags: CKVM_STATS_TYPE_LOG_HIST) == .logHistogram)
        #expect(KVMStatUnit(flags: CKVM_STATS_UNIT_SECONDS) == .seconds)
        #expect(KVMStatUnit(flags: CKVM_STATS_UNIT_BOOLEAN) == .boolean)
        #expect(KVMStatBase(flags: CKVM_STATS_BASE_POW2) == .powerOf2)
        #expect(CKVM_STATS_TYPE_MASK == 0xF && CKVM_STATS_UNIT_MASK == 0xF0 && CKVM_STATS_BASE_MASK == 0xF00)
        #expect(KVMStatsSchema.descriptorFixedSize == MemoryLayout<kvm_stats_desc>.size)
        #expect(KVMStatsSchema.headerSize == MemoryLayout<kvm_stats_header>.size)
    }

    @Test("ioctl numbers match the reference values")
    func ioctlNumbers() {
        #expect(CKVM_RUN == 0xAE80)
        #expect(CKVM_SET_USER_MEMORY_REGION == 0x4020_AE46)
        #expect(CKVM_GET_STATS_FD == 0xAECE)
        #expect(CKVM_CAP_BINARY_STATS_FD == 203)
    }
}
