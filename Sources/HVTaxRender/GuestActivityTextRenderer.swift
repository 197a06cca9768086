import HVTaxModel

/// The text of the host + guest merge: per guest vCPU, each kind of host interval with the guest
/// tasks that were current during it, and the guest IRQs and syscalls counted in it.
struct GuestActivityTextRenderer {
    let style: TerminalStyle
    /// Tasks named per interval kind; the rest are summed as `others`.
    var tasksPerInterval = 4

    func render(_ guests: [GuestReport], unit: ClockInfo.Unit) -> [String] {
        var out: [String] = []
        for guest in guests {
            out.append("")
            out.append(style.apply(.title, "Guest \(guest.name)") + style.apply(.dim,
                "  (\(guest.guestFile), trace id \(guest.traceID), on the clock of \(guest.hostFile); "
                + "\(Formatting.grouped(guest.events)) events"
                + (guest.unattributedEvents > 0 ? ", \(Formatting.grouped(guest.unattributedEvents)) on CPUs of no vCPU" : "") + ")"))
            for vcpu in guest.vcpus {
                out.append("  vCPU \(vcpu.vcpu) (host thread \(vcpu.hostTid)), \(Formatting.duration(vcpu.time, unit: unit)) attributed")
                var table = TextTable([("while the vCPU was", .left), ("time", .right), ("share", .right), ("irqs", .right),
                                       ("syscalls", .right), ("the guest was running", .left)])
                for interval in vcpu.intervals {
                    let what = interval.state.rawValue + (interval.exitReason.map { " (\($0))" } ?? "")
                    table.add([what, Formatting.duration(interval.time, unit: unit), Formatting.percent(interval.share),
                               Formatting.grouped(interval.irqs), Formatting.grouped(interval.syscalls), tasks(interval)])
                }
                out.append(table.render(style: style, indent: "    "))
            }
        }
        return out
    }

    private func tasks(_ interval: GuestIntervalReport) -> String {
        var parts = interval.tasks.prefix(tasksPerInterval).map { task in
            (task.tid.map { "\(task.name)-\($0)" } ?? task.name) + " " + Formatting.percent(task.share, digits: 0)
        }
        let rest = interval.tasks.dropFirst(tasksPerInterval)
        if !rest.isEmpty {
            parts.append("\(rest.count) more " + Formatting.percent(rest.reduce(0) { $0 + $1.share }, digits: 0))
        }
        return parts.joined(separator: ", ")
    }
}
