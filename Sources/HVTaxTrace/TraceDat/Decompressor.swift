import CCompression

/// The compression a v7 trace.dat names in its header (`"zlib\0<version>\0"`, `"zstd\0..."`).
/// trace-cmd compresses each block in one shot (zlib's `compress2`, zstd's `ZSTD_compress2`), so a
/// block is one complete zlib stream or zstd frame whose uncompressed size the file states.
public enum TraceDatCompression: Sendable, Equatable {
    case none
    case zlib
    case zstd

    public init?(name: String) {
        switch name {
        case "none": self = .none
        case "zlib": self = .zlib
        case "zstd": self = .zstd
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .none: "none"
        case .zlib: "zlib"
        case .zstd: "zstd"
        }
    }

    /// Blocks larger than this are refused: the format stores 32-bit sizes, and no real section or
    /// chunk comes near it, so a bigger claim is a corrupted size, not data worth 4 GiB of memory.
    static let maxBlockBytes: UInt32 = 256 << 20

    /// How far a block may claim to expand: trace pages and format texts compress well, but not
    /// beyond this, so a corrupted uncompressed size cannot make the reader allocate without limit.
    static func plausible(uncompressed: UInt32, compressed: UInt32) -> Bool {
        uncompressed <= maxBlockBytes && UInt64(uncompressed) <= UInt64(compressed) * 4096 + (64 << 10)
    }

    /// Decompresses one block into exactly `expectedSize` bytes, or explains why it cannot.
    /// Returns the problem as text; the caller knows the file, section and offset to name.
    func decompress(_ input: UnsafeRawBufferPointer, expectedSize: UInt32,
                    into output: inout [UInt8]) -> String? {
        guard expectedSize <= Self.maxBlockBytes else {
            return "claims \(expectedSize) uncompressed bytes, more than the \(Self.maxBlockBytes) a block may hold"
        }
        output = [UInt8](repeating: 0, count: Int(expectedSize))
        return output.withUnsafeMutableBytes { decompress(input, into: $0) }
    }

    /// Decompresses one block into `output`, which must be exactly the stated uncompressed size.
    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> String? {
        if output.isEmpty { return nil }
        switch self {
        case .none:
            guard input.count == output.count else {
                return "an uncompressed block of \(input.count) bytes claims \(output.count)"
            }
            output.copyMemory(from: input)
            return nil
        case .zlib:
            var produced = uLongf(output.count)
            let status = uncompress(output.baseAddress!.assumingMemoryBound(to: Bytef.self), &produced,
                                    input.baseAddress?.assumingMemoryBound(to: Bytef.self), uLong(input.count))
            guard status == Z_OK else { return "zlib could not decompress the block (error \(status))" }
            guard produced == uLongf(output.count) else {
                return "zlib produced \(produced) bytes, the file says \(output.count)"
            }
            return nil
        case .zstd:
            guard let base = input.baseAddress else { return "an empty zstd block" }
            let produced = ZSTD_decompress(output.baseAddress!, output.count, base, input.count)
            if ZSTD_isError(produced) != 0 {
                return "zstd could not decompress the block: \(String(cString: ZSTD_getErrorName(produced)))"
            }
            guard produced == output.count else {
                return "zstd produced \(produced) bytes, the file says \(output.count)"
            }
            return nil
        }
    }

    /// Compresses one block as trace-cmd does (used by tests and the writer).
    func compress(_ input: [UInt8]) -> [UInt8] {
        switch self {
        case .none:
            return input
        case .zlib:
            var bound = compressBound(uLong(input.count))
            var out = [UInt8](repeating: 0, count: Int(bound))
            let status = out.withUnsafeMutableBytes { o in
                input.withUnsafeBytes { i in
                    compress2(o.baseAddress!.assumingMemoryBound(to: Bytef.self), &bound,
                              i.baseAddress?.assumingMemoryBound(to: Bytef.self), uLong(i.count), Z_DEFAULT_COMPRESSION)
                }
            }
            precondition(status == Z_OK, "zlib compress2 failed: \(status)")
            return Array(out.prefix(Int(bound)))
        case .zstd:
            let bound = ZSTD_compressBound(input.count)
            var out = [UInt8](repeating: 0, count: bound)
            let written = out.withUnsafeMutableBytes { o in
                input.withUnsafeBytes { i in
                    ZSTD_compress(o.baseAddress!, o.count, i.baseAddress, i.count, 3)
                }
            }
            precondition(ZSTD_isError(written) == 0, "zstd compress failed")
            return Array(out.prefix(written))
        }
    }
}
