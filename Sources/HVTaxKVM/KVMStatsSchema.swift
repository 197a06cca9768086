/// How one KVM statistic behaves over time (bits 0-3 of a descriptor's flags).
public enum KVMStatKind: Sendable, Equatable, Hashable {
    case cumulative
    case instant
    case peak
    case linearHistogram
    case logHistogram
    /// A type newer than this reader; values are still read, as raw numbers.
    case unknown(UInt32)

    init(flags: UInt32) {
        switch flags & 0xF {
        case 0: self = .cumulative
        case 1: self = .instant
        case 2: self = .peak
        case 3: self = .linearHistogram
        case 4: self = .logHistogram
        case let other: self = .unknown(other)
        }
    }
}

/// The unit of a statistic's values (bits 4-7).
public enum KVMStatUnit: Sendable, Equatable, Hashable {
    case none
    case bytes
    case seconds
    case cycles
    case boolean
    case unknown(UInt32)

    init(flags: UInt32) {
        switch (flags >> 4) & 0xF {
        case 0: self = .none
        case 1: self = .bytes
        case 2: self = .seconds
        case 3: self = .cycles
        case 4: self = .boolean
        case let other: self = .unknown(other)
        }
    }
}

/// The base of the exponent (bits 8-11): value = raw x base^exponent.
public enum KVMStatBase: Sendable, Equatable, Hashable {
    case powerOf10
    case powerOf2
    case unknown(UInt32)

    init(flags: UInt32) {
        switch (flags >> 8) & 0xF {
        case 0: self = .powerOf10
        case 1: self = .powerOf2
        case let other: self = .unknown(other)
        }
    }
}

/// One descriptor of a KVM binary statistics block (`struct kvm_stats_desc`).
public struct KVMStatDescriptor: Sendable, Equatable {
    public let name: String
    public let flags: UInt32
    public let exponent: Int16
    /// Number of u64 values: 1 for scalars, the bucket count for histograms.
    public let size: Int
    /// Byte offset of the first value inside the data block.
    public let offset: Int
    /// Width of a linear histogram's buckets, in raw units.
    public let bucketSize: UInt32

    public var kind: KVMStatKind { KVMStatKind(flags: flags) }
    public var unit: KVMStatUnit { KVMStatUnit(flags: flags) }
    public var base: KVMStatBase { KVMStatBase(flags: flags) }

    public init(name: String, flags: UInt32, exponent: Int16, size: Int, offset: Int, bucketSize: UInt32) {
        self.name = name
        self.flags = flags
        self.exponent = exponent
        self.size = size
        self.offset = offset
        self.bucketSize = bucketSize
    }
}

/// The fixed part of a statistics fd: header, id string and descriptors, read once.
///
/// The kernel promises only that the blocks are 8-byte aligned, not that they are adjacent or in
/// order, so everything is located through the header's offsets.
public struct KVMStatsSchema: Sendable, Equatable {
    public static let headerSize = 24
    /// `struct kvm_stats_desc` without its trailing name.
    public static let descriptorFixedSize = 16

    public let flags: UInt32
    /// Length of the id string and of every descriptor's name field.
    public let nameSize: Int
    /// e.g. "kvm-1234/vcpu-0".
    public let id: String
    public let descriptors: [KVMStatDescriptor]
    public let dataOffset: Int
    /// Bytes of the data block that hold values (the end of the furthest descriptor's values).
    public let dataSize: Int

    /// Parses a schema through `read(offset, count)`, which returns exactly `count` bytes of the fd
    /// (or of a test buffer) at `offset`.
    public static func parse(
        read: (_ offset: Int, _ count: Int) throws(KVMError) -> [UInt8]
    ) throws(KVMError) -> KVMStatsSchema {
        let header = try read(0, headerSize)
        let flags = header.u32(at: 0)
        let nameSize = Int(header.u32(at: 4))
        let count = Int(header.u32(at: 8))
        let idOffset = Int(header.u32(at: 12))
        let descriptorOffset = Int(header.u32(at: 16))
        let dataOffset = Int(header.u32(at: 20))
        guard nameSize > 0, nameSize <= 4096 else {
            throw .malformedStats(offset: 4, expected: "a name size between 1 and 4096, found \(nameSize)")
        }
        for (field, value) in [(12, idOffset), (16, descriptorOffset), (20, dataOffset)] where value % 8 != 0 {
            throw .malformedStats(offset: field, expected: "an 8-byte aligned block offset, found \(value)")
        }
        let id = String(decoding: try read(idOffset, nameSize).prefix { $0 != 0 }, as: UTF8.self)
        let stride = descriptorFixedSize + nameSize
        let table = try read(descriptorOffset, stride * count)
        var descriptors: [KVMStatDescriptor] = []
        descriptors.reserveCapacity(count)
        var dataSize = 0
        for index in 0..<count {
            let base = index * stride
            let descriptor = KVMStatDescriptor(
                name: String(decoding: table[(base + 16)..<(base + stride)].prefix { $0 != 0 }, as: UTF8.self),
                flags: table.u32(at: base),
                exponent: Int16(bitPattern: table.u16(at: base + 4)),
                size: Int(table.u16(at: base + 6)),
                offset: Int(table.u32(at: base + 8)),
                bucketSize: table.u32(at: base + 12))
            guard descriptor.offset % 8 == 0 else {
                throw .malformedStats(offset: descriptorOffset + base + 8,
                                      expected: "an 8-byte aligned value offset for \(descriptor.name)")
            }
            dataSize = max(dataSize, descriptor.offset + 8 * descriptor.size)
            descriptors.append(descriptor)
        }
        return KVMStatsSchema(flags: flags, nameSize: nameSize, id: id, descriptors: descriptors,
                              dataOffset: dataOffset, dataSize: dataSize)
    }

    /// The descriptor called `name`, if this kernel has it.
    public func descriptor(named name: String) -> KVMStatDescriptor? {
        descriptors.first { $0.name == name }
    }
}

extension [UInt8] {
    /// Little-endian integers read in place: the stats ABI is host-endian and hvtax's KVM layer is
    /// x86-64 only.
    func u32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16
            | UInt32(self[offset + 3]) << 24
    }

    func u16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }
}
