import HVTaxModel

/// Snapshots built by hand: one VM `w` with one vCPU, figures chosen by the test.
enum HistoryFixtures {
    static func snapshot(steal: Double, onCPU: Double = 0.5, guestShare: Double = 0.9, exitsPerSecond: Double? = nil,
                         vm: String = "w", intervalNs: UInt64 = 1_000_000_000, vcpus: Int = 1) -> HostSnapshot {
        let on = UInt64(onCPU * Double(intervalNs))
        let delay = UInt64(max(steal, 0) * Double(intervalNs))
        let user = on
        let guest = UInt64(Double(on) * guestShare)
        let threads = (0..<vcpus).map { index in VCPUFigures(
            vcpu: index, tid: 101 + Int32(index), thread: "CPU \(index)/KVM", onCPUNs: on, runDelayNs: delay, userNs: user, systemNs: 0, guestNs: guest,
            voluntarySwitches: 0, involuntarySwitches: 0, migrations: 0, lastCPU: 0, onCPU: onCPU,
            steal: RatedRatio(steal, against: Thresholds.standard.steal)) }
        let figures = VMFigures(
            name: vm, pid: 100, kind: .qemu, uuid: nil, vcpus: threads, emulator: .init(), io: .init(), vhost: .init(), cgroup: nil,
            vcpuOnCPU: onCPU, vmmOverhead: RatedRatio(0, against: Thresholds.standard.tax),
            steal: RatedRatio(steal, against: Thresholds.standard.steal), worstVCPUSteal: .ok, exitsPerSecond: exitsPerSecond, cpus: [0])
        return HostSnapshot(
            sequence: 1, intervalNs: intervalNs, endUnixNs: 1_795_000_000_000_000_000, root: "/", clockTicksPerSecond: 100,
            hostCPUs: [], vms: [figures], interrupts: .init(), exitRates: .init(kind: .none, detail: "test"), noisyNeighbours: [],
            findings: [], sampler: .init(cpuNs: 0, filesRead: 0, threadsSampled: 1), thresholds: .standard)
    }
}
