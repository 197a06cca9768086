import CKVM

#if canImport(Glibc)
import Glibc
#endif

/// Reads a KVM binary statistics fd: the schema once, then one pread of the data block per sample.
public final class KVMStatsReader: Sendable {
    let fd: OwnedFileDescriptor
    public let schema: KVMStatsSchema

    /// Asks `owner` (a VM or vCPU fd) for its statistics fd with KVM_GET_STATS_FD.
    convenience init(statsFdOf owner: OwnedFileDescriptor, operation: String) throws(KVMError) {
        let raw = ioctl(owner.raw, CKVM_GET_STATS_FD, 0)
        if raw < 0 { throw KVMError.from(errno: errno, operation: operation) }
        try self.init(fd: OwnedFileDescriptor(raw))
    }

    init(fd: OwnedFileDescriptor) throws(KVMError) {
        self.fd = fd
        self.schema = try KVMStatsSchema.parse { (offset, count) throws(KVMError) in
            try KVMStatsReader.pread(fd: fd.raw, offset: offset, count: count)
        }
    }

    /// The raw fd number, for an independent reader of the same fd (tests use pidfd_getfd).
    public var fileDescriptor: Int32 { fd.raw }

    /// One sample of every statistic.
    public func sample() throws(KVMError) -> KVMStatsSample {
        var words = [UInt64](repeating: 0, count: schema.dataSize / 8)
        let wanted = schema.dataSize
        let got = words.withUnsafeMutableBytes { buffer in
            retryingOnEINTR { Glibc.pread(fd.raw, buffer.baseAddress, wanted, off_t(schema.dataOffset)) }
        }
        guard got == wanted else {
            throw got < 0 ? .systemCall(operation: "pread of KVM statistics data", errno: errno)
                : .malformedStats(offset: schema.dataOffset + max(got, 0), expected: "\(wanted) bytes of data")
        }
        return KVMStatsSample(schema: schema, words: words)
    }

    static func pread(fd: Int32, offset: Int, count: Int) throws(KVMError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { buffer in
            retryingOnEINTR { Glibc.pread(fd, buffer.baseAddress, count, off_t(offset)) }
        }
        guard got == count else {
            throw got < 0 ? .systemCall(operation: "pread of KVM statistics", errno: errno)
                : .malformedStats(offset: offset + max(got, 0), expected: "\(count) bytes")
        }
        return bytes
    }
}

/// The values of every statistic at one moment.
public struct KVMStatsSample: Sendable {
    public let schema: KVMStatsSchema
    /// The data block as u64 words; a descriptor's values start at word `offset / 8`.
    public let words: [UInt64]

    public init(schema: KVMStatsSchema, words: [UInt64]) {
        self.schema = schema
        self.words = words
    }

    /// The raw u64 values of `descriptor`.
    public func raw(_ descriptor: KVMStatDescriptor) -> ArraySlice<UInt64> {
        let first = descriptor.offset / 8
        return words[first..<(first + descriptor.size)]
    }

    /// The typed value of the statistic called `name`, or nil when this kernel lacks it.
    public subscript(name: String) -> KVMStatValue? {
        schema.descriptor(named: name).map { KVMStatValue(descriptor: $0, raw: raw($0)) }
    }

    /// The first raw value of a scalar statistic, or nil when this kernel lacks it.
    public func scalar(_ name: String) -> UInt64? {
        schema.descriptor(named: name).map { raw($0).first ?? 0 }
    }

    /// Every statistic, typed, in descriptor order.
    public var values: [(descriptor: KVMStatDescriptor, value: KVMStatValue)] {
        schema.descriptors.map { ($0, KVMStatValue(descriptor: $0, raw: raw($0))) }
    }

    /// How much each cumulative scalar grew since `earlier` (only the ones that changed).
    public func cumulativeDeltas(since earlier: KVMStatsSample) -> [String: Int64] {
        var deltas: [String: Int64] = [:]
        for descriptor in schema.descriptors where descriptor.kind == .cumulative && descriptor.size == 1 {
            let now = raw(descriptor).first ?? 0
            let before = earlier.raw(descriptor).first ?? 0
            if now != before { deltas[descriptor.name] = Int64(bitPattern: now &- before) }
        }
        return deltas
    }
}
