import HVTaxModel

/// esxtop's `Group Cpu` and `Vcpu` columns onto the capture model
/// (docs/sources.md, "Other hypervisors").
enum EsxtopMapper {
    static let groupObject = "group cpu"
    static let vcpuObject = "vcpu"

    /// The same counters name a group (sums over its worlds) and a world (one vCPU).
    static let recipes: [FigureRecipe] = [
        // %RUN includes %OVRLP, work done for other worlds while this one was scheduled: what is
        // left is the world's own run time, guest code and VMware's monitor, which esxtop cannot split.
        .init(.guest, "% run", minus: "% overlap"),
        .init(.hypervisor, "% system"),
        .init(.preempted, "% ready"),
        .init(.halted, "% idle"),
        .init(.totalRun, "% run"),
        .init(.used, "% used"),
        .init(.wait, "% wait"),
        .init(.vmWait, "% vmwait"),
        .init(.swapWait, "% swap wait"),
        .init(.overlap, "% overlap"),
        .init(.coStop, "% costop"),
        .init(.maxLimited, "% max limited"),
        .init(.cpuLatency, "% cpu latency"),
        .init(.cpuLatency, "% latency"),
        .init(.demand, "% demand"),
        .init(.worldSwitches, "switches/sec"),
        .init(.migrations, "migrates/sec"),
    ]

    private static let knownCounters = Set(recipes.map(\.add))

    static func matches(_ columns: [CounterPath?]) -> Bool {
        columns.contains { path in
            guard let object = path?.objectKey else { return false }
            return object == groupObject || object == vcpuObject
        }
    }

    /// A Vcpu instance, `GROUPID:NAME:WORLDID:vmx-vcpu-N:NAME`: the group id, the VM name and the
    /// vCPU number, or nil for the VM's other worlds (vmx, mks, vmast, svga). The name may hold
    /// colons, so the world is found from the right, by its `vmx-vcpu-` prefix.
    static func vcpuWorld(_ instance: String) -> (groupID: String, name: String, vcpu: Int)? {
        guard let firstColon = instance.firstIndex(of: ":"),
              let marker = instance.ranges(of: ":vmx-vcpu-").last else { return nil }
        let groupID = String(instance[..<firstColon])
        let digits = instance[marker.upperBound...].prefix { $0.isASCII && $0.isNumber }
        guard let vcpu = Int(digits) else { return nil }
        // Between the group id and the marker: `NAME:WORLDID`.
        let middle = instance[instance.index(after: firstColon)..<marker.lowerBound]
        var name = String(middle)
        if let colon = middle.lastIndex(of: ":"), middle[middle.index(after: colon)...].allSatisfy(\.isNumber) {
            name = String(middle[..<colon])
        }
        return (groupID, name, vcpu)
    }

    private struct Group {
        var name: String
        var own: [String: Int] = [:]
        var vcpus: [Int: EntityColumns] = [:]
    }

    private struct Host {
        var name: String
        var groups: [String: Group] = [:]
    }

    static func layout(columns: [CounterPath?]) -> CaptureLayout {
        var builder = LayoutBuilder(kind: .esxtop, recipes: recipes)
        var hosts: [String: Host] = [:]
        var hostOrder: [String] = []
        var unknownCounters: [String] = []
        var unknownSeen: Set<String> = []
        var otherWorldColumns = 0
        var vcpuColumns = 0

        for (column, path) in columns.enumerated() {
            guard let path else {
                builder.layout.quality.unusedObjects["(not a counter path)", default: 0] += 1
                continue
            }
            let object = path.objectKey
            guard object == groupObject || object == vcpuObject else {
                builder.layout.quality.unusedObjects[path.object, default: 0] += 1
                continue
            }
            let counter = path.counterKey
            guard knownCounters.contains(counter) else {
                let name = "\(path.object)\\\(path.counter)"
                if unknownSeen.insert(name.lowercased()).inserted { unknownCounters.append(name) }
                continue
            }
            let hostKey = (path.host ?? "").lowercased()
            if hosts[hostKey] == nil {
                hosts[hostKey] = Host(name: path.host ?? "(host not named in paths)")
                hostOrder.append(hostKey)
            }
            let instance = path.instance ?? ""
            if object == groupObject {
                let parts = instance.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let groupID = String(parts[0])
                let name = parts.count > 1 ? String(parts[1]) : instance
                hosts[hostKey]!.groups[groupID, default: Group(name: name)].own[counter] = column
                builder.columnNames[column] = "\(path.object)(*)\\\(path.counter)"
            } else {
                guard let world = vcpuWorld(instance) else {
                    otherWorldColumns += 1
                    continue
                }
                vcpuColumns += 1
                hosts[hostKey]!.groups[world.groupID, default: Group(name: world.name)]
                    .vcpus[world.vcpu, default: EntityColumns(instance: instance, index: world.vcpu)]
                    .columns[counter] = column
                builder.columnNames[column] = "\(path.object)(*:vmx-vcpu-*)\\\(path.counter)"
            }
        }

        var notVMs: [String] = []
        for key in hostOrder {
            let host = hosts[key]!
            var vms: [GroupColumns] = []
            for (groupID, group) in host.groups {
                guard !group.vcpus.isEmpty else {
                    notVMs.append(group.name)
                    continue
                }
                let cpus = group.vcpus.values.sorted { ($0.index ?? 0) < ($1.index ?? 0) }
                vms.append(GroupColumns(name: group.name, groupID: groupID, own: group.own.isEmpty ? nil : group.own,
                                        ownDivisor: Double(cpus.count), cpus: cpus))
            }
            vms.sort { ($0.name, $0.groupID ?? "") < ($1.name, $1.groupID ?? "") }
            var layout = HostLayout(name: host.name)
            layout.series = builder.hostSeries(vms)
            layout.vms = vms.map { builder.group($0) }
            builder.layout.hosts.append(layout)
        }

        var quality = builder.layout.quality
        quality.unknownCounters = unknownCounters
        quality.note("esxtop: group percentages are sums over a VM's worlds; hvtax divides them by the VM's vCPU count (its vmx-vcpu worlds), so every figure is per vCPU.")
        quality.note("esxtop: guest is %RUN − %OVRLP, VMware's monitor included (esxtop cannot split it); hypervisor is %SYS; steal is %RDY, which includes %MLMTD; %CSTP is rated on its own.")
        if !notVMs.isEmpty {
            let names = notVMs.sorted().prefix(8).joined(separator: ", ")
            quality.note("\(notVMs.count) CPU groups have no vmx-vcpu worlds and are not VMs (\(names)\(notVMs.count > 8 ? ", ..." : "")): not shown.")
        }
        if vcpuColumns == 0 && !hostOrder.isEmpty {
            quality.note("The capture has no Vcpu columns of vmx-vcpu worlds: hvtax needs them to tell VMs from system groups and to divide group figures per vCPU, so no VM is shown. Capture without filtering out the Vcpu entities.")
        }
        if otherWorldColumns > 0 {
            quality.note("\(otherWorldColumns) Vcpu columns of a VM's other worlds (vmx, mks, vmast, svga) are counted in the group figures only.")
        }
        builder.layout.figures = builder.availability(reason: reason)
        builder.layout.quality = quality
        return builder.layout
    }

    static func reason(_ figure: CaptureFigure) -> String {
        if let recipe = recipes.first(where: { $0.figure == figure }) {
            return "not in this capture: the Group Cpu and Vcpu columns have no \"\(recipe.add)\" counter"
        }
        switch figure {
        case .vmm:
            return "esxtop has no per-vCPU figure for the VM's vmx process; its time is in the group's %USED, not split out"
        case .intercepts, .hypercalls, .ioInstructions, .msrAccesses, .cpuid,
             .interceptCost, .hypercallCost, .ioInstructionCost, .msrAccessCost, .cpuidCost:
            return "esxtop does not count exits, intercepts, hypercalls or instruction exits per VM"
        case .interrupts:
            return "esxtop counts interrupts per vector and physical CPU, not per VM"
        default:
            return "a Hyper-V figure; esxtop has no counterpart (%RDY is its steal)"
        }
    }
}
