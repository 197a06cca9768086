#if canImport(Glibc)
import Glibc
#endif

/// Small reads of procfs/sysfs files, which report sizes of 0 and must be read until EOF.
enum SystemFiles {
    static func read(_ path: String, limit: Int = 1 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let got = chunk.withUnsafeMutableBytes { buffer in
                retryingOnEINTR { Glibc.read(fd, buffer.baseAddress, buffer.count) }
            }
            if got <= 0 { break }
            bytes += chunk[0..<got]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The kernel log records, one message each, read non-blockingly from /dev/kmsg (each read
    /// returns exactly one record). Nil when the log is not readable (dmesg_restrict, no root).
    static func kernelLogMessages() -> [String]? {
        let fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var messages: [String] = []
        var record = [UInt8](repeating: 0, count: 8192)
        while true {
            let got = record.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if got < 0 {
                // EPIPE: the record we were about to read was overwritten; keep going.
                if errno == EPIPE || errno == EINTR { continue }
                break
            }
            if got == 0 { break }
            // "prio,seq,usec,flags;message\n continuation lines"
            let line = record[0..<got].split(separator: UInt8(ascii: "\n"), maxSplits: 1).first ?? []
            if let semicolon = line.firstIndex(of: UInt8(ascii: ";")) {
                messages.append(String(decoding: line[(semicolon + 1)...], as: UTF8.self))
            }
        }
        return messages
    }
}

extension SystemFiles {
    /// Names in a directory (without "." and ".."), sorted; empty when unreadable.
    static func entries(of path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// `uname -r`.
    static func kernelRelease() -> String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
