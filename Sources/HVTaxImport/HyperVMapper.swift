import HVTaxModel

/// Hyper-V's hypervisor counter sets onto the capture model (docs/sources.md, "Other hypervisors").
enum HyperVMapper {
    static let logicalProcessorObject = "hyper-v hypervisor logical processor"
    static let virtualProcessorObject = "hyper-v hypervisor virtual processor"
    static let rootVirtualProcessorObject = "hyper-v hypervisor root virtual processor"
    static let objects: Set<String> = [logicalProcessorObject, virtualProcessorObject, rootVirtualProcessorObject]

    /// Virtual processors, of guests and of the root alike.
    static let vpRecipes: [FigureRecipe] = [
        .init(.guest, "% guest run time"),
        .init(.hypervisor, "% hypervisor run time"),
        .init(.totalRun, "% total run time"),
        .init(.remoteRun, "% remote run time"),
        .init(.dispatchWait, "cpu wait time per dispatch"),
        .init(.intercepts, "total intercepts/sec"),
        .init(.hypercalls, "hypercalls/sec"),
        // The interrupts that make a VP leave the guest, as an intercept would.
        .init(.interrupts, "external interrupts/sec"),
        .init(.ioInstructions, "io instructions/sec"),
        .init(.msrAccesses, "msr accesses/sec"),
        .init(.cpuid, "cpuid instructions/sec"),
        .init(.interceptCost, "total intercepts cost"),
        .init(.hypercallCost, "hypercalls cost"),
        .init(.ioInstructionCost, "io instructions cost"),
        .init(.msrAccessCost, "msr accesses cost"),
        .init(.cpuidCost, "cpuid instructions cost"),
    ]

    static let lpRecipes: [FigureRecipe] = [
        .init(.guest, "% guest run time"),
        .init(.hypervisor, "% hypervisor run time"),
        .init(.totalRun, "% total run time"),
        .init(.halted, "% idle time"),
        .init(.interrupts, "total interrupts/sec"),
        .init(.hardwareInterrupts, "hardware interrupts/sec"),
        .init(.contextSwitches, "context switches/sec"),
    ]

    private static let knownCounters: [String: Set<String>] = [
        logicalProcessorObject: Set(lpRecipes.map(\.add)),
        virtualProcessorObject: Set(vpRecipes.map(\.add)),
        rootVirtualProcessorObject: Set(vpRecipes.map(\.add)),
    ]

    /// Whether a header names any Hyper-V hypervisor counter set.
    static func matches(_ columns: [CounterPath?]) -> Bool {
        columns.contains { $0.map { objects.contains($0.objectKey) } ?? false }
    }

    private struct Host {
        var name: String
        var lps: [String: EntityColumns] = [:]
        var lpTotal: [String: Int] = [:]
        /// VM name -> VP instance -> columns, VM names in order of first appearance.
        var vms: [String: [String: EntityColumns]] = [:]
        var vmOrder: [String] = []
        var rootVPs: [String: EntityColumns] = [:]
    }

    static func layout(columns: [CounterPath?]) -> CaptureLayout {
        var builder = LayoutBuilder(kind: .hyperV, recipes: vpRecipes)
        var hosts: [String: Host] = [:]
        var hostOrder: [String] = []
        var unknownCounters: [String] = []
        var unknownSeen: Set<String> = []

        for (column, path) in columns.enumerated() {
            guard let path else {
                builder.layout.quality.unusedObjects["(not a counter path)", default: 0] += 1
                continue
            }
            let object = path.objectKey
            guard objects.contains(object) else {
                builder.layout.quality.unusedObjects[path.object, default: 0] += 1
                continue
            }
            let counter = path.counterKey
            guard knownCounters[object]?.contains(counter) ?? false else {
                let name = "\(path.object)\\\(path.counter)"
                if unknownSeen.insert(name.lowercased()).inserted { unknownCounters.append(name) }
                continue
            }
            builder.columnNames[column] = "\(path.object)(*)\\\(path.counter)"
            let hostKey = (path.host ?? "").lowercased()
            if hosts[hostKey] == nil {
                hosts[hostKey] = Host(name: path.host ?? "(host not named in paths)")
                hostOrder.append(hostKey)
            }
            let instance = path.instance ?? ""
            let instanceKey = instance.lowercased()
            switch object {
            case logicalProcessorObject:
                if instanceKey == "_total" {
                    hosts[hostKey]!.lpTotal[counter] = column
                } else {
                    hosts[hostKey]!.lps[instanceKey, default: EntityColumns(instance: instance, index: trailingNumber(instance))]
                        .columns[counter] = column
                }
            case virtualProcessorObject:
                // `_Total` sums all guests' VPs; the host figures are built from the VPs instead.
                guard instanceKey != "_total" else { continue }
                let (vm, vp) = splitVPInstance(instance)
                if hosts[hostKey]!.vms[vm] == nil {
                    hosts[hostKey]!.vms[vm] = [:]
                    hosts[hostKey]!.vmOrder.append(vm)
                }
                hosts[hostKey]!.vms[vm]![vp.lowercased(), default: EntityColumns(instance: instance, index: trailingNumber(vp))]
                    .columns[counter] = column
            default:
                guard instanceKey != "_total" else { continue }
                hosts[hostKey]!.rootVPs[instanceKey, default: EntityColumns(instance: instance, index: trailingNumber(instance))]
                    .columns[counter] = column
            }
        }

        for key in hostOrder {
            let host = hosts[key]!
            let vms = host.vmOrder.sorted().map { name in
                GroupColumns(name: name, own: nil, cpus: sortedCPUs(host.vms[name]!))
            }
            var layout = HostLayout(name: host.name)
            layout.series = builder.hostSeries(vms)
            layout.vms = vms.map { builder.group($0) }
            builder.recordsSources = false
            if !host.rootVPs.isEmpty {
                layout.root = builder.group(GroupColumns(name: "root partition", own: nil, cpus: sortedCPUs(host.rootVPs)))
            }
            if !host.lps.isEmpty || !host.lpTotal.isEmpty {
                builder.recipes = lpRecipes
                // `_Total` of the LPs is their mean: use it only when the LPs themselves are not captured.
                layout.logicalProcessors = builder.group(GroupColumns(
                    name: "logical processors", own: host.lps.isEmpty ? host.lpTotal : nil,
                    cpus: sortedCPUs(host.lps), isLogicalProcessors: true))
                builder.recipes = vpRecipes
            }
            builder.recordsSources = true
            builder.layout.hosts.append(layout)
        }

        var quality = builder.layout.quality
        quality.unknownCounters = unknownCounters
        quality.note("Hyper-V: the VM worker process (vmwp.exe) runs in the root partition, so its time is in the root VPs, not in a VM's: the tax covers the hypervisor only.")
        quality.note("Hyper-V: steal is CPU Wait Time Per Dispatch (ns a ready VP waited per dispatch), rated against its own thresholds; there is no share of time to rate against the steal thresholds.")
        if hostOrder.isEmpty {
            quality.note("No counter of the Hyper-V hypervisor sets hvtax reads was found.")
        }
        let availability = builder.availability { figure in reason(figure, in: columns) }
        builder.layout.figures = availability
        builder.layout.quality = quality
        return builder.layout
    }

    /// `VMNAME:Hv VP 0` -> (`VMNAME`, `Hv VP 0`). The VM name may itself hold colons and
    /// parentheses, the VP part never does: split at the last colon.
    static func splitVPInstance(_ instance: String) -> (vm: String, vp: String) {
        guard let colon = instance.lastIndex(of: ":") else { return (instance, instance) }
        return (String(instance[..<colon]), String(instance[instance.index(after: colon)...]).trimmingSpaces())
    }

    private static func sortedCPUs(_ cpus: [String: EntityColumns]) -> [EntityColumns] {
        cpus.values.sorted { ($0.index ?? Int.max, $0.instance) < ($1.index ?? Int.max, $1.instance) }
    }

    /// Why Hyper-V does not give a figure, or which counter the capture lacks.
    static func reason(_ figure: CaptureFigure, in columns: [CounterPath?]) -> String {
        if let recipe = vpRecipes.first(where: { $0.figure == figure }) {
            return "not in this capture: add \\Hyper-V Hypervisor Virtual Processor(*)\\\(displayName(recipe.add)) to the collector"
        }
        switch figure {
        case .halted:
            return "Hyper-V counts idle time per logical processor (% Idle Time), not per VP: a VP's time off a processor mixes idle with waiting to be dispatched"
        case .hardwareInterrupts, .contextSwitches:
            return "a logical processor figure: Hyper-V counts it per LP, not per VP"
        case .vmm:
            return "Hyper-V runs each VM's worker process (vmwp.exe) in the root partition: its time is in the root VPs, not per VM"
        case .preempted:
            return "Hyper-V counts no share of time a VP waited to run; CPU Wait Time Per Dispatch (dispatchWaitNs) is its steal figure"
        default:
            return "an esxtop figure; Hyper-V has no counterpart"
        }
    }

    /// The counter as Windows spells it, for remedies: `% guest run time` -> `% Guest Run Time`.
    static func displayName(_ key: String) -> String {
        key.split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
            switch word {
            case "io": "IO"
            case "msr": "MSR"
            case "cpu": "CPU"
            case "cpuid": "CPUID"
            default: word.prefix(1).uppercased() + word.dropFirst()
            }
        }.joined(separator: " ")
    }
}
