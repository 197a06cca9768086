import HVTaxHost

#if canImport(Glibc)
import Glibc
#endif

/// Makes the workload process look like a VMM to discovery tools that read /proc/PID/cmdline.
///
/// QEMU is found by its `-name guest=NAME,...` argument (libvirt starts it that way). A process
/// cannot grow its own /proc/PID/cmdline without CAP_SYS_RESOURCE (prctl PR_SET_MM_ARG_START), so
/// hvtax re-executes itself once with the QEMU-style pair appended: unprivileged, portable, and the
/// kernel then reports exactly what the new argv holds.
public enum VMMProcessIdentity {
    /// The pair appended to the command line.
    public static func arguments(name: String) -> [String] {
        ["-name", "guest=\(name),debug-threads=on"]
    }

    /// A VM name QEMU would accept unescaped: no commas (QEMU's option separator), no whitespace.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && !name.contains { $0 == "," || $0.isWhitespace || $0 == "\0" }
    }

    /// Whether /proc/self/cmdline already carries `-name guest=NAME`.
    public static func isPresent(name: String) -> Bool {
        guard let cmdline = try? HostFileSystem.live.readText("/proc/self/cmdline") else { return false }
        let words = cmdline.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        return zip(words, words.dropFirst()).contains { $0 == "-name" && $1.hasPrefix("guest=\(name),") }
    }

    /// Replaces the process with this executable run on `arguments` (argv[0] included) plus the
    /// identity pair. Returns only when exec failed, with the error.
    public static func reexecute(arguments currentArguments: [String], name: String) -> KVMError {
        let argv = currentArguments + arguments(name: name)
        var pointers: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        pointers.append(nil)
        // The resolved path, not /proc/self/exe itself: the kernel names the process after the
        // executed file, and "exe" in ps and top would hide that this is hvtax.
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &target, target.count - 1)
        let path = length > 0 ? String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : "/proc/self/exe"
        execv(path, &pointers)
        let code = errno
        for pointer in pointers { free(pointer) }
        return .systemCall(operation: "re-executing /proc/self/exe with -name guest=\(name)", errno: code)
    }
}
