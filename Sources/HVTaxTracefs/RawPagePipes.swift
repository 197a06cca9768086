#if canImport(Glibc)
import Glibc
#endif

/// The per-CPU `trace_pipe_raw` files of an instance, opened non-blocking: each read hands over a
/// ring-buffer page (or the used part of one) exactly as the kernel wrote it, so the trace.dat
/// page decoder reads them with no conversion. `hvtax record` spools them to files, `hvtax serve`'s
/// tracing collector decodes them every interval.
final class RawPagePipes {
    let cpus: [Int]
    let pageSize: Int
    private let paths: [String]
    private var fds: [Int32] = []
    private var page: [UInt8]

    init(instance: TracefsInstance, pageSize: Int) throws(TracefsError) {
        cpus = Tracefs.directoryEntries(instance.file("per_cpu")).compactMap { name -> Int? in
            name.hasPrefix("cpu") ? Int(name.dropFirst(3)) : nil
        }.sorted()
        self.pageSize = pageSize
        page = [UInt8](repeating: 0, count: pageSize)
        paths = cpus.map { instance.file("per_cpu/cpu\($0)/trace_pipe_raw") }
        for path in paths {
            let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else {
                closeAll()
                throw .errno(path, "open")
            }
            fds.append(fd)
        }
    }

    deinit { closeAll() }

    /// Closes the pipes; the instance cannot be removed while a reader holds one open.
    func closeAll() {
        for fd in fds where fd >= 0 { close(fd) }
        fds = []
    }

    /// Hands every page the kernel has ready, CPU by CPU, to `body(cpu index, whole page, used
    /// bytes)`; a short read is zero-filled to a whole page, as trace.dat stores pages.
    func drain(_ body: (Int, [UInt8], Int) throws -> Void) throws {
        for index in fds.indices {
            while true {
                let n = page.withUnsafeMutableBytes { Glibc.read(fds[index], $0.baseAddress!, pageSize) }
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { break }
                    throw TracefsError.errno(paths[index], "read")
                }
                if n == 0 { break }
                if n < pageSize { for i in n..<pageSize { page[i] = 0 } }
                try body(index, page, n)
            }
        }
    }
}
