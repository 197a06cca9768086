import HVTaxModel

/// The trace-quality counters every renderer shows, with what each means, in one place so the
/// terminal, HTML and any later renderer say the same thing.
enum TraceQualityCounters {
    struct Counter {
        var label: String
        var value: UInt64
        var meaning: String
    }

    static func counters(_ q: TraceQuality) -> [Counter] {
        [
            Counter(label: "lost events", value: q.lostTotal,
                    meaning: q.lost.map { lost in
                        "cpu\(lost.cpu): \(Formatting.grouped(lost.events))"
                            + (lost.uncounted.map { " + \(Formatting.count(Int($0), "gap")) of unknown size" } ?? "")
                    }.joined(separator: ", ")),
            Counter(label: "unpaired exits", value: q.unpairedExits, meaning: "exit followed by another exit, no entry between"),
            Counter(label: "unpaired entries", value: q.unpairedEntries, meaning: "entry with no exit before it"),
            Counter(label: "open at end", value: q.exitsOpenAtEnd, meaning: "exits still in progress when the trace ended (no latency)"),
            Counter(label: "cut by loss", value: q.exitsBrokenByLostEvents, meaning: "exit windows cut by lost events (no latency)"),
            Counter(label: "vcpu inferred", value: q.exitsWithInferredVCPU,
                    meaning: "kvm_exit without vcpu id: taken from the thread's last kvm_entry"),
            Counter(label: "vcpu missing", value: q.exitsWithoutVCPU, meaning: "kvm_exit without vcpu id and no earlier kvm_entry"),
            Counter(label: "failed entries", value: q.failedVMEntries, meaning: "FAILED_VMENTRY exits"),
            Counter(label: "reordered", value: q.reorderedEvents, meaning: "events put back in timestamp order"),
            Counter(label: "late events", value: q.lateEvents, meaning: "events too far out of order: charged at their vCPU's last time"),
            Counter(label: "out of range", value: q.eventsOutOfRange ?? 0,
                    meaning: "events over 52 days from the trace's first: a damaged timestamp, left out"),
        ]
    }
}
