#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// Bytes from an input, in large chunks. Decompressors are byte sources over another byte source.
public protocol ByteSource: AnyObject {
    /// Fills `buffer` with up to its size; returns 0 only at the end of the input.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Bytes consumed from the underlying file so far, for error offsets.
    var consumedInputBytes: UInt64 { get }
}

/// A file descriptor (a file or stdin) read with plain read(2), after any bytes already peeked.
public final class FileByteSource: ByteSource {
    private let fd: FileDescriptor
    private let closeOnDeinit: Bool
    private var pending: [UInt8]
    private var pendingOffset = 0
    public private(set) var consumedInputBytes: UInt64 = 0
    let path: String

    init(fd: FileDescriptor, path: String, closeOnDeinit: Bool, pending: [UInt8]) {
        self.fd = fd
        self.path = path
        self.closeOnDeinit = closeOnDeinit
        self.pending = pending
    }

    deinit {
        if closeOnDeinit { try? fd.close() }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let count = drainPending(&pending, offset: &pendingOffset, into: buffer) {
            consumedInputBytes += UInt64(count)
            return count
        }
        do {
            let count = try fd.read(into: buffer, retryOnInterrupt: true)
            consumedInputBytes += UInt64(count)
            return count
        } catch {
            throw TraceReadError(file: path, location: "byte offset \(consumedInputBytes)",
                                 problem: "read failed: \(error)")
        }
    }
}

/// How an input file is compressed, recognised by its magic bytes rather than its name, so that
/// `-` (stdin) and renamed files work too.
public enum Compression: String, Sendable {
    case gzip, zstd

    static func detect(_ prefix: [UInt8]) -> Compression? {
        if prefix.count >= 2 && prefix[0] == 0x1f && prefix[1] == 0x8b { return .gzip }
        if prefix.count >= 4 && prefix[0] == 0x28 && prefix[1] == 0xb5 && prefix[2] == 0x2f && prefix[3] == 0xfd {
            return .zstd
        }
        return nil
    }
}

/// An opened input: its decompressed bytes, and the first bytes of those for format detection.
public struct OpenedInput {
    public let path: String
    public let compression: Compression?
    public let bytes: ByteSource
    /// The first (decompressed) bytes, also still delivered by `bytes`.
    public let head: [UInt8]

    /// Opens `path` (`-` is stdin) and looks through gzip or zstd compression.
    public static func open(_ path: String) throws -> OpenedInput {
        let fd: FileDescriptor
        if path == "-" {
            fd = .standardInput
        } else {
            do {
                fd = try FileDescriptor.open(FilePath(path), .readOnly)
            } catch {
                throw TraceReadError(file: path, location: "open", problem: "cannot open: \(error)")
            }
        }
        let raw = FileByteSource(fd: fd, path: path, closeOnDeinit: path != "-", pending: try readHead(fd, path: path))
        let rawHead = raw.peekPending()
        let compression = Compression.detect(rawHead)
        let bytes: ByteSource
        switch compression {
        case .gzip: bytes = try GzipByteSource(upstream: raw, path: path)
        case .zstd: bytes = try ZstdByteSource(upstream: raw, path: path)
        case nil: bytes = raw
        }
        let peeking = PeekingByteSource(bytes)
        let head = try peeking.peek(4096)
        return OpenedInput(path: path, compression: compression, bytes: peeking, head: head)
    }

    private static func readHead(_ fd: FileDescriptor, path: String) throws -> [UInt8] {
        var head = [UInt8](repeating: 0, count: 65536)
        var filled = 0
        while filled < 4 {
            let count = try head.withUnsafeMutableBytes { buffer -> Int in
                do {
                    return try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), retryOnInterrupt: true)
                } catch {
                    throw TraceReadError(file: path, location: "byte offset 0", problem: "read failed: \(error)")
                }
            }
            if count == 0 { break }
            filled += count
        }
        head.removeSubrange(filled...)
        return head
    }
}

extension FileByteSource {
    fileprivate func peekPending() -> [UInt8] { Array(pending[pendingOffset...]) }
}

/// Lets the opener look at the first decompressed bytes and still hand them to the reader.
final class PeekingByteSource: ByteSource {
    private let upstream: ByteSource
    private var peeked: [UInt8] = []
    private var offset = 0

    init(_ upstream: ByteSource) { self.upstream = upstream }

    var consumedInputBytes: UInt64 { upstream.consumedInputBytes }

    func peek(_ count: Int) throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = try chunk.withUnsafeMutableBytes {
                try upstream.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
            }
            if got == 0 { break }
            filled += got
        }
        chunk.removeSubrange(filled...)
        peeked = chunk
        return chunk
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try drainPending(&peeked, offset: &offset, into: buffer) ?? upstream.read(into: buffer)
    }
}

/// Hands out bytes read ahead (for format detection) before any new read; nil once they are gone.
private func drainPending(_ pending: inout [UInt8], offset: inout Int, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
    guard offset < pending.count else { return nil }
    let count = min(buffer.count, pending.count - offset)
    pending.withUnsafeBytes { source in
        buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
    }
    offset += count
    if offset == pending.count {
        pending = []
        offset = 0
    }
    return count
}
