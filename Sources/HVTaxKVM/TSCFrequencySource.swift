import CKVM
import HVTaxHost
import HVTaxModel

#if canImport(Glibc)
import Glibc
#endif

/// Finds the TSC frequency from what the kernel (or the CPU) states, never by guessing.
///
/// In order of trust: the rate KVM gives a vCPU's TSC (KVM_GET_TSC_KHZ, which is what a guest's
/// RDTSC ticks at, taken from the kernel's calibrated tsc_khz); sysfs tsc_freq_khz where a kernel
/// exposes it; CPUID leaf 0x15 (crystal x ratio) and the hypervisor timing leaf 0x40000010; the
/// kernel log's "tsc: Refined TSC clocksource calibration" / "tsc: Detected ... MHz processor".
/// Only when all of those fail is it measured against CLOCK_MONOTONIC_RAW, and the source says so.
public enum TSCFrequencySource {
    public static func discover(vcpu: KVMVCPU? = nil) -> TSCFrequency {
        if let vcpu, vcpu.vm.device.checkExtension(CKVM_CAP_GET_TSC_KHZ) > 0 {
            let khz = ioctl(vcpu.fd.raw, CKVM_GET_TSC_KHZ, 0)
            if khz > 0 { return TSCFrequency(hz: Double(khz) * 1000, source: "KVM_GET_TSC_KHZ (vCPU TSC rate)") }
        }
        return discoverOnHost()
    }

    /// The same without a vCPU: the host's TSC.
    public static func discoverOnHost() -> TSCFrequency {
        if let text = try? HostFileSystem.live.readValue("/sys/devices/system/cpu/cpu0/tsc_freq_khz"),
           let khz = Double(text), khz > 0
        {
            return TSCFrequency(hz: khz * 1000, source: "/sys/devices/system/cpu/cpu0/tsc_freq_khz")
        }
        let leaf15 = HostCPU.cpuid(0x15)
        if HostCPU.cpuid(0).eax >= 0x15, leaf15.eax != 0, leaf15.ebx != 0, leaf15.ecx != 0 {
            let hz = Double(leaf15.ecx) * Double(leaf15.ebx) / Double(leaf15.eax)
            return TSCFrequency(hz: hz, source: "CPUID 0x15 (crystal \(leaf15.ecx) Hz x \(leaf15.ebx)/\(leaf15.eax))")
        }
        let host = HostCPU.current()
        if host.isGuest, host.maximumHypervisorLeaf >= 0x4000_0010 {
            let khz = HostCPU.cpuid(0x4000_0010).eax
            if khz > 0 { return TSCFrequency(hz: Double(khz) * 1000, source: "CPUID 0x40000010 (hypervisor timing leaf)") }
        }
        if let messages = kernelLogMessages(), let found = fromKernelLog(messages) {
            return found
        }
        return measured()
    }

    /// Parses the kernel log lines; the refined calibration wins over the early detection.
    static func fromKernelLog(_ messages: [String]) -> TSCFrequency? {
        func mhz(after prefix: String) -> (Double, String)? {
            for message in messages.reversed() {
                guard let range = message.firstRange(of: prefix) else { continue }
                let number = message[range.upperBound...].prefix { $0.isNumber || $0 == "." }
                if let value = Double(number), value > 0 { return (value, message) }
            }
            return nil
        }
        if let (value, line) = mhz(after: "tsc: Refined TSC clocksource calibration: ") {
            return TSCFrequency(hz: value * 1e6, source: "kernel log: \(line)")
        }
        if let (value, line) = mhz(after: "tsc: Detected ") {
            return TSCFrequency(hz: value * 1e6, source: "kernel log: \(line)")
        }
        return nil
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

    /// Last resort: TSC ticks over 200 ms of CLOCK_MONOTONIC_RAW.
    static func measured() -> TSCFrequency {
        func rawNs() -> UInt64 {
            var time = timespec()
            clock_gettime(CLOCK_MONOTONIC_RAW, &time)
            return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
        }
        let startNs = rawNs()
        let startTicks = ckvm_rdtsc_ordered()
        var request = timespec(tv_sec: 0, tv_nsec: 200_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
        let ticks = ckvm_rdtsc_ordered() - startTicks
        let ns = rawNs() - startNs
        return TSCFrequency(hz: Double(ticks) * 1e9 / Double(ns),
                            source: "measured against CLOCK_MONOTONIC_RAW over 200 ms (no kernel source found)")
    }
}
