/// The guest's port I/O and MMIO accesses at one address in one direction, within one scope (a
/// vCPU, a VM, the host): what `perf kvm stat report --event=ioport` and `--event=mmio` list, with
/// percentiles and the path each access took.
public struct DeviceAccessStats: Codable, Sendable, Equatable {
    public enum Space: String, Codable, Sendable, CaseIterable {
        /// x86 port I/O (IN/OUT, `kvm_pio`).
        case pio
        /// Emulated MMIO (`kvm_mmio`, `kvm_fast_mmio`).
        case mmio
    }

    public enum Direction: String, Codable, Sendable, CaseIterable {
        case read, write
    }

    public var space: Space
    /// The port (pio) or guest physical address (mmio).
    public var address: UInt64
    public var direction: Direction
    /// What a PC usually has at this address (`COM1`, `RTC/CMOS`, `local APIC`), from
    /// `WellKnownDevices`; nil for addresses a VMM assigns (PCI BARs).
    public var device: String?
    public var count: UInt64
    public var ratePerSecond: Double
    /// Accesses followed by a `kvm_userspace_exit` before the vCPU entered the guest again: the
    /// userspace VMM emulated them. nil when the trace has no kvm_userspace_exit events (then which
    /// accesses went to the VMM cannot be told).
    public var throughVMM: UInt64?
    /// Summed time from each access to the vCPU's next `kvm_entry` (the accesses that have one).
    public var time: UInt64
    /// Access -> next entry, perf kvm stat's measure: the cost of emulating the access and returning.
    public var latency: LatencySummary
    /// Accesses with no `kvm_entry` after them: the trace has no kvm_entry events (a backend whose
    /// exit tracepoints do not fire), events were lost, another exit came first, or the trace ended.
    public var unfinished: UInt64

    public init(space: Space, address: UInt64, direction: Direction, device: String?, count: UInt64, ratePerSecond: Double,
                throughVMM: UInt64?, time: UInt64, latency: LatencySummary, unfinished: UInt64) {
        self.space = space
        self.address = address
        self.direction = direction
        self.device = device
        self.count = count
        self.ratePerSecond = ratePerSecond
        self.throughVMM = throughVMM
        self.time = time
        self.latency = latency
        self.unfinished = unfinished
    }

    /// `0x3f8:POUT`, `0xfee000b0:W`: perf kvm stat's key, so the two tools' tables can be matched.
    public var key: String {
        let hex = "0x" + String(address, radix: 16)
        switch (space, direction) {
        case (.pio, .read): return hex + ":PIN"
        case (.pio, .write): return hex + ":POUT"
        case (.mmio, .read): return hex + ":R"
        case (.mmio, .write): return hex + ":W"
        }
    }
}

/// What sits at the fixed addresses of a PC that QEMU, Firecracker and cloud-hypervisor guests
/// touch: the legacy ISA ports and the APIC/HPET MMIO windows. Addresses a VMM assigns at run time
/// (PCI BARs, virtio-mmio) are not named.
public enum WellKnownDevices {
    /// Port ranges (inclusive) and their devices: the IBM PC/AT I/O map, PCI configuration
    /// mechanism #1, QEMU's fw_cfg and debug ports, the ACPI PM blocks SeaBIOS sets on QEMU's
    /// machines (docs/sources.md lists the sources).
    static let ports: [(ClosedRange<UInt64>, String)] = [
        (0x20...0x21, "PIC master"), (0xa0...0xa1, "PIC slave"),
        (0x40...0x43, "PIT"), (0x60...0x60, "i8042 data"), (0x64...0x64, "i8042 command"),
        (0x61...0x61, "port B / PC speaker"), (0x70...0x71, "RTC/CMOS"), (0x80...0x80, "POST diagnostic"),
        (0x92...0x92, "system control port A"),
        (0x1f0...0x1f7, "ATA primary"), (0x170...0x177, "ATA secondary"), (0x3f6...0x3f6, "ATA primary control"),
        (0x2f8...0x2ff, "COM2"), (0x3e8...0x3ef, "COM3"), (0x3f8...0x3ff, "COM1"),
        (0x378...0x37a, "LPT1"), (0x3c0...0x3df, "VGA"),
        (0xe9...0xe9, "debug port (isa-debugcon)"), (0x402...0x402, "firmware debug port"),
        (0x510...0x511, "QEMU fw_cfg"), (0x514...0x51b, "QEMU fw_cfg DMA"),
        (0xcf8...0xcfb, "PCI config address"), (0xcfc...0xcff, "PCI config data"),
        (0xb000...0xb03f, "ACPI PM (i440FX)"), (0x600...0x67f, "ACPI PM (Q35)"),
    ]

    /// MMIO windows at their architectural default bases (Intel SDM vol. 3 ch. 11, the IOAPIC and
    /// HPET specifications).
    static let mmio: [(ClosedRange<UInt64>, String)] = [
        (0xfee0_0000...0xfee0_0fff, "local APIC"),
        (0xfec0_0000...0xfec0_03ff, "IOAPIC"),
        (0xfed0_0000...0xfed0_03ff, "HPET"),
    ]

    public static func name(_ space: DeviceAccessStats.Space, _ address: UInt64) -> String? {
        let table = space == .pio ? ports : mmio
        return table.first { $0.0.contains(address) }?.1
    }
}
