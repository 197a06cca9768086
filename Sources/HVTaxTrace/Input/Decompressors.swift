import CCompression

/// Streams a gzip file (one or several concatenated members, as `cat a.gz b.gz` makes) through zlib.
final class GzipByteSource: ByteSource {
    private let upstream: ByteSource
    private let path: String
    private var stream = z_stream()
    private let input = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
    private var inputEnded = false
    private var memberEnded = false

    init(upstream: ByteSource, path: String) throws {
        self.upstream = upstream
        self.path = path
        // 15 + 32: the largest window, and let zlib recognise the gzip header itself.
        let status = inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            input.deallocate()
            throw TraceReadError(file: path, location: "byte offset 0", problem: "zlib cannot start (status \(status))")
        }
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    var consumedInputBytes: UInt64 { upstream.consumedInputBytes - UInt64(stream.avail_in) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(buffer.count)
        while stream.avail_out == uInt(buffer.count) {
            if stream.avail_in == 0 && !inputEnded {
                let count = try upstream.read(into: input)
                if count == 0 {
                    inputEnded = true
                } else {
                    stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_in = uInt(count)
                }
            }
            if stream.avail_in == 0 && inputEnded {
                if memberEnded { break }
                throw TraceReadError(file: path, location: "compressed byte offset \(consumedInputBytes)",
                                     problem: "gzip data ends before the end of its stream (truncated file)")
            }
            if memberEnded {
                // Another gzip member follows the one that ended.
                inflateReset(&stream)
                memberEnded = false
            }
            let status = inflate(&stream, Z_NO_FLUSH)
            switch status {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                memberEnded = true
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                throw TraceReadError(file: path, location: "compressed byte offset \(consumedInputBytes)",
                                     problem: "corrupt gzip data: \(message)")
            }
        }
        return buffer.count - Int(stream.avail_out)
    }
}

/// Streams a zstd file (any number of frames) through libzstd.
final class ZstdByteSource: ByteSource {
    private let upstream: ByteSource
    private let path: String
    private let stream: OpaquePointer
    private let input = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
    private var inBuffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    private var inputEnded = false
    /// 0 when the last frame was complete; libzstd's hint otherwise.
    private var frameRemaining = 0

    init(upstream: ByteSource, path: String) throws {
        self.upstream = upstream
        self.path = path
        guard let stream = ZSTD_createDStream() else {
            input.deallocate()
            throw TraceReadError(file: path, location: "byte offset 0", problem: "libzstd cannot start")
        }
        self.stream = stream
        ZSTD_initDStream(stream)
    }

    deinit {
        ZSTD_freeDStream(stream)
        input.deallocate()
    }

    var consumedInputBytes: UInt64 { upstream.consumedInputBytes - UInt64(inBuffer.size - inBuffer.pos) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var out = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while out.pos == 0 {
            if inBuffer.pos == inBuffer.size && !inputEnded {
                let count = try upstream.read(into: input)
                if count == 0 {
                    inputEnded = true
                } else {
                    inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: count, pos: 0)
                }
            }
            if inBuffer.pos == inBuffer.size && inputEnded {
                if frameRemaining == 0 { break }
                throw TraceReadError(file: path, location: "compressed byte offset \(consumedInputBytes)",
                                     problem: "zstd data ends inside a frame (truncated file)")
            }
            let result = ZSTD_decompressStream(stream, &out, &inBuffer)
            if ZSTD_isError(result) != 0 {
                throw TraceReadError(file: path, location: "compressed byte offset \(consumedInputBytes)",
                                     problem: "corrupt zstd data: \(String(cString: ZSTD_getErrorName(result)))")
            }
            frameRemaining = result
        }
        return out.pos
    }
}
