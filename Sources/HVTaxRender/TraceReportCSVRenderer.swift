import HVTaxModel

/// CSV in long form, one figure per row, so any spreadsheet or dataframe can pivot it:
///
///     scope,vm,vcpu,tid,reason,path,metric,value,unit
///
/// scope is host, vm, vcpu, guest or quality; empty columns do not apply to the row. Port I/O and
/// MMIO rows put the address in the reason column, as perf kvm stat keys it (`0x70:POUT`). The quality
/// rows carry the counters of the text report's trace-quality section (lost events per CPU too), so
/// a figure read from CSV comes with what the trace could not tell.
public struct TraceReportCSVRenderer {
    public init() {}

    public func render(_ report: TraceReport) -> String {
        var rows = ["scope,vm,vcpu,tid,reason,path,metric,value,unit"]
        let unit = report.clock.unit.rawValue
        func add(_ scope: String, _ vm: String, _ vcpu: String, _ tid: String, _ reason: String, _ path: String,
                 _ metric: String, _ value: String, _ valueUnit: String) {
            rows.append([scope, vm, vcpu, tid, reason, path, metric, value, valueUnit].map(Self.quote).joined(separator: ","))
        }
        func scope(_ scope: String, _ vm: String, _ vcpu: String, _ tid: String, split: TimeSplit, tax: RatedRatio,
                   steal: RatedRatio, exits: ExitSummary) {
            for state in VCPUState.allCases { add(scope, vm, vcpu, tid, "", "", "time_\(state.rawValue)", String(split[state]), unit) }
            add(scope, vm, vcpu, tid, "", "", "tax_ratio", tax.ratio.map { "\($0)" } ?? "", "ratio")
            add(scope, vm, vcpu, tid, "", "", "tax_level", tax.level.rawValue, "")
            add(scope, vm, vcpu, tid, "", "", "steal_ratio", steal.ratio.map { "\($0)" } ?? "", "ratio")
            add(scope, vm, vcpu, tid, "", "", "steal_level", steal.level.rawValue, "")
            add(scope, vm, vcpu, tid, "", "", "exits", String(exits.count), "count")
            add(scope, vm, vcpu, tid, "", "", "exit_rate", "\(exits.ratePerSecond)", "per_second")
            for path in ExitPath.allCases {
                add(scope, vm, vcpu, tid, "", path.rawValue, "exits", String(exits.paths[path].count), "count")
                add(scope, vm, vcpu, tid, "", path.rawValue, "window_time", String(exits.paths[path].windowTime), unit)
            }
            for reason in exits.byReason {
                let r = reason.reason
                add(scope, vm, vcpu, tid, r, "", "exits", String(reason.count), "count")
                add(scope, vm, vcpu, tid, r, "", "exit_rate", "\(reason.ratePerSecond)", "per_second")
                add(scope, vm, vcpu, tid, r, "", "share_of_exits", "\(reason.shareOfExits)", "ratio")
                add(scope, vm, vcpu, tid, r, "", "hypervisor_time", String(reason.hypervisorTime), unit)
                add(scope, vm, vcpu, tid, r, "", "share_of_hypervisor_time", "\(reason.shareOfHypervisorTime)", "ratio")
                add(scope, vm, vcpu, tid, r, "", "vmm_time", String(reason.vmmTime), unit)
                let l = reason.latency
                for (name, value) in [("latency_min", l.min), ("latency_p50", l.p50), ("latency_p90", l.p90),
                                      ("latency_p99", l.p99), ("latency_p99_9", l.p999), ("latency_max", l.max)] {
                    add(scope, vm, vcpu, tid, r, "", name, String(value), unit)
                }
                for path in ExitPath.allCases {
                    add(scope, vm, vcpu, tid, r, path.rawValue, "exits", String(reason.paths[path].count), "count")
                }
            }
            // Port I/O and MMIO: the reason column holds perf kvm stat's key (`0x3f8:POUT`).
            for access in exits.accesses ?? [] {
                let k = access.key
                add(scope, vm, vcpu, tid, k, "", "accesses", String(access.count), "count")
                add(scope, vm, vcpu, tid, k, "", "access_rate", "\(access.ratePerSecond)", "per_second")
                if let vmm = access.throughVMM { add(scope, vm, vcpu, tid, k, "vmm", "accesses", String(vmm), "count") }
                add(scope, vm, vcpu, tid, k, "", "access_time", String(access.time), unit)
                add(scope, vm, vcpu, tid, k, "", "accesses_unfinished", String(access.unfinished), "count")
                let l = access.latency
                for (name, value) in [("access_latency_min", l.min), ("access_latency_p50", l.p50), ("access_latency_p99", l.p99),
                                      ("access_latency_max", l.max)] where l.count > 0 {
                    add(scope, vm, vcpu, tid, k, "", name, String(value), unit)
                }
            }
        }
        let host = report.host
        scope("host", "", "", "", split: host.split, tax: host.tax, steal: host.steal, exits: host.exits)
        for vm in report.vms {
            scope("vm", vm.name, "", "", split: vm.split, tax: vm.tax, steal: vm.steal, exits: vm.exits)
            for vcpu in vm.vcpus {
                scope("vcpu", vm.name, vcpu.vcpu.map(String.init) ?? "", String(vcpu.tid), split: vcpu.split,
                      tax: vcpu.tax, steal: vcpu.steal, exits: vcpu.exits)
            }
        }
        // Guest activity: scope `guest`, vm = the guest's name, reason = the exit reason of the
        // interval kind, path = the host state, tid = the guest task ("" for the interval's total).
        for guest in report.guests ?? [] {
            for vcpu in guest.vcpus {
                let v = String(vcpu.vcpu)
                for interval in vcpu.intervals {
                    let r = interval.exitReason ?? "", s = interval.state.rawValue
                    add("guest", guest.name, v, "", r, s, "time", String(interval.time), unit)
                    add("guest", guest.name, v, "", r, s, "irqs", String(interval.irqs), "count")
                    add("guest", guest.name, v, "", r, s, "syscalls", String(interval.syscalls), "count")
                    for task in interval.tasks {
                        let t = task.tid.map(String.init) ?? ""
                        add("guest", guest.name, v, t, r, s, "task_name", task.name, "")
                        add("guest", guest.name, v, t, r, s, "task_time", String(task.time), unit)
                    }
                }
            }
        }
        let quality = report.quality
        add("quality", "", "", "", "", "", "events", String(quality.events), "count")
        for counter in TraceQualityCounters.counters(quality) {
            add("quality", "", "", "", "", "", counter.label.replacingOccurrences(of: " ", with: "_"), String(counter.value), "count")
        }
        add("quality", "", "", "", "", "", "uncounted_gaps", String(quality.uncountedGaps), "count")
        for lost in quality.lost {
            add("quality", "", "", "", "", "", "lost_events_cpu\(lost.cpu)", String(lost.events), "count")
            if let gaps = lost.uncounted { add("quality", "", "", "", "", "", "uncounted_gaps_cpu\(lost.cpu)", String(gaps), "count") }
        }
        add("quality", "", "", "", "", "", "malformed_lines", String(quality.malformedLines), "count")
        add("quality", "", "", "", "", "", "unknown_events", String(quality.unknownEvents.values.reduce(0, +)), "count")
        return rows.joined(separator: "\n") + "\n"
    }

    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
