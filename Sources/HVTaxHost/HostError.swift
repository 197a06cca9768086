#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failure to read something on the host, with the host path it concerns (as the user knows it,
/// e.g. `/proc/modules`, not the fixture directory it was resolved under) and the errno, so a
/// report can say "reading /sys/kernel/debug/kvm/exits: Operation not permitted (EPERM)".
public struct HostError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Operation: String, Sendable {
        case open = "opening"
        case read = "reading"
        case list = "listing"
        case stat = "inspecting"
        case ioctl = "ioctl on"
        case run = "running"
        case decompress = "decompressing"
        case parse = "parsing"
    }

    public var operation: Operation
    public var path: String
    /// The system call's errno; nil when the failure is not a system call's (parse, decompress).
    public var errno: Int32?
    /// Extra words: the ioctl's name, a parse complaint, a tool's output.
    public var reason: String?

    public init(_ operation: Operation, _ path: String, errno: Int32? = nil, reason: String? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.reason = reason
    }

    public var isNotFound: Bool { errno == ENOENT || errno == ENOTDIR }
    public var isPermissionDenied: Bool { errno == EACCES || errno == EPERM }

    /// "Operation not permitted (EPERM)", or the reason when there is no errno.
    public var cause: String {
        var parts: [String] = []
        if let reason { parts.append(reason) }
        if let errno { parts.append(Self.describe(errno: errno)) }
        return parts.isEmpty ? "failed" : parts.joined(separator: ": ")
    }

    public var description: String { "\(operation.rawValue) \(path): \(cause)" }

    /// strerror plus the symbolic name, because remedies and kernel sources speak in names.
    public static func describe(errno code: Int32) -> String {
        let message = String(cString: strerror(code))
        if let name = errnoNames[code] { return "\(message) (\(name))" }
        return "\(message) (errno \(code))"
    }

    private static let errnoNames: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO",
        E2BIG: "E2BIG", ENOEXEC: "ENOEXEC", EBADF: "EBADF", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
        EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", ENODEV: "ENODEV",
        ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", EMFILE: "EMFILE", ENOTTY: "ENOTTY",
        EROFS: "EROFS", ENOSYS: "ENOSYS", EOPNOTSUPP: "EOPNOTSUPP", ETIMEDOUT: "ETIMEDOUT",
        ELOOP: "ELOOP", ENAMETOOLONG: "ENAMETOOLONG",
    ]
}
