#if canImport(Glibc)
import Glibc
#endif

/// Anonymous host memory given to a guest as one KVM memory slot.
///
/// `@unchecked Sendable` because the bytes are shared with the guest by design: hvtax writes code,
/// page tables and the IDT before any vCPU runs, and afterwards each vCPU's mailbox and sample
/// buffer are touched only by the thread that runs that vCPU (between two KVM_RUN calls).
public final class GuestMemory: @unchecked Sendable {
    public let guestPhysicalAddress: UInt64
    public let size: Int
    let base: UnsafeMutableRawPointer

    init(guestPhysicalAddress: UInt64, size: Int) throws(KVMError) {
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw KVMError.from(errno: errno, operation: "mmap \(size) bytes of guest memory")
        }
        self.guestPhysicalAddress = guestPhysicalAddress
        self.size = size
        self.base = pointer
    }

    deinit {
        munmap(base, size)
    }

    /// The host pointer behind guest physical `address`, checking that `count` bytes fit.
    func pointer(at address: UInt64, count: Int) throws(KVMError) -> UnsafeMutableRawPointer {
        guard address >= guestPhysicalAddress,
              address - guestPhysicalAddress + UInt64(count) <= UInt64(size)
        else {
            throw .guestLayout("guest physical 0x\(String(address, radix: 16)) + \(count) bytes is outside the "
                + "slot at 0x\(String(guestPhysicalAddress, radix: 16)) of \(size) bytes")
        }
        return base + Int(address - guestPhysicalAddress)
    }

    public func write(_ bytes: [UInt8], at address: UInt64) throws(KVMError) {
        let destination = try pointer(at: address, count: bytes.count)
        bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    public func read(count: Int, at address: UInt64) throws(KVMError) -> [UInt8] {
        let source = try pointer(at: address, count: count)
        return Array(UnsafeRawBufferPointer(start: source, count: count))
    }

    public func store(_ value: UInt64, at address: UInt64) throws(KVMError) {
        try pointer(at: address, count: 8).storeBytes(of: value.littleEndian, as: UInt64.self)
    }

    public func load(at address: UInt64) throws(KVMError) -> UInt64 {
        UInt64(littleEndian: try pointer(at: address, count: 8).loadUnaligned(as: UInt64.self))
    }
}
