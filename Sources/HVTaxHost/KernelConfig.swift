import CCompression

/// The running kernel's build configuration, when the host exposes it.
public struct KernelConfig: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case builtIn  // =y
        case module  // =m
        case notSet  // "# CONFIG_X is not set"
        case other(String)  // numbers and strings

        public var isEnabled: Bool { self == .builtIn || self == .module }
    }

    /// Where it was read from, for the report's sources.
    public var source: String
    public var values: [String: Value]

    public init(source: String, values: [String: Value]) {
        self.source = source
        self.values = values
    }

    /// `name` with or without its CONFIG_ prefix. nil when the file does not mention it, which for
    /// an option that depends on something unset means the same as not set.
    public subscript(name: String) -> Value? {
        values[name.hasPrefix("CONFIG_") ? name : "CONFIG_" + name]
    }

    public static func parse(_ text: String, source: String) -> KernelConfig {
        var values: [String: Value] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# CONFIG_"), line.hasSuffix(" is not set") {
                let name = line.dropFirst(2).dropLast(" is not set".count)
                values[String(name)] = .notSet
            } else if line.hasPrefix("CONFIG_"), let eq = line.firstIndex(of: "=") {
                let value = line[line.index(after: eq)...]
                values[String(line[..<eq])] =
                    switch value {
                    case "y": .builtIn
                    case "m": .module
                    default: .other(String(value))
                    }
            }
        }
        return KernelConfig(source: source, values: values)
    }

    /// /proc/config.gz (CONFIG_IKCONFIG_PROC) first, because it is the running kernel's own; then
    /// /boot/config-RELEASE as distributions install it. Nil when neither exists; a file that
    /// exists but cannot be read or decompressed is an error worth reporting.
    public static func load(_ fs: HostFileSystem, release: String?) throws(HostError) -> KernelConfig? {
        do {
            let text = try Gzip.inflate(try fs.read("/proc/config.gz"), path: "/proc/config.gz")
            return parse(text, source: "/proc/config.gz")
        } catch where error.isNotFound {}
        guard let release else { return nil }
        let boot = "/boot/config-\(release)"
        do {
            return parse(try fs.readText(boot), source: boot)
        } catch where error.isNotFound {
            return nil
        }
    }
}

/// gzip decompression with zlib, for /proc/config.gz.
enum Gzip {
    static func inflate(_ compressed: [UInt8], path: String) throws(HostError) -> String {
        var stream = z_stream()
        // 15 window bits + 32: let zlib detect the gzip header.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw HostError(.decompress, path, reason: "zlib inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        var input = compressed
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = CCompression.inflate(&stream, Z_NO_FLUSH)
                    output.append(contentsOf: outBuf[0..<(outBuf.count - Int(stream.avail_out))])
                }
            } while status == Z_OK
        }
        guard status == Z_STREAM_END else {
            throw HostError(.decompress, path, reason: "zlib inflate returned \(status)")
        }
        return String(decoding: output, as: UTF8.self)
    }
}
