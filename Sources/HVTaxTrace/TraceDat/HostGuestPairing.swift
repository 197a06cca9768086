import HVTaxEvents

/// Pairs guest trace.dat files (they carry TIME_SHIFT and TRACEID options) with the host trace.dat
/// whose GUEST option names their trace id, as trace-cmd does for `trace-cmd report -i host.dat -i
/// guest.dat`, and marks each guest reader so its events say whose they are.
///
/// A guest file given with other traces but matching no host's GUEST entry is an error: its times
/// would be on a clock nothing else uses and its CPUs would belong to no vCPU.
public enum HostGuestPairing {
    public static func pair(_ streams: [EventStream]) throws(TraceReadError) -> [GuestIdentity] {
        let readers = streams.compactMap { $0 as? TraceDatReader }
        let guestReaders = readers.filter { $0.file.timeShift != nil }
        // One guest file read alone is a trace like any other (on the host's clock, as trace-cmd shows it).
        guard streams.count > 1, !guestReaders.isEmpty else { return [] }
        let hosts = readers.filter { !$0.file.guests.isEmpty }
        var identities: [GuestIdentity] = []
        for guest in guestReaders {
            let file = guest.file
            guard let traceID = file.traceID else {
                throw TraceReadError(file: file.path, location: "options",
                                     problem: "a guest trace (it has a TIME_SHIFT option) without a TRACEID option: no host GUEST entry can name it")
            }
            let matches = hosts.compactMap { host in host.file.guests.first { $0.traceID == traceID }.map { (host, $0) } }
            guard let (host, entry) = matches.first else {
                let known = hosts.flatMap { host in host.file.guests.map { "\($0.name) 0x\(String($0.traceID, radix: 16)) in \(host.file.path)" } }
                throw TraceReadError(file: file.path, location: "option TRACEID",
                                     problem: "guest trace id 0x\(String(traceID, radix: 16)) matches no GUEST entry of the host traces given ("
                                        + (known.isEmpty ? "none of them has a GUEST option" : "they name " + known.joined(separator: ", "))
                                        + "): record the host with `trace-cmd record -A GUEST` and give its trace.dat")
            }
            guard matches.count == 1 else {
                throw TraceReadError(file: file.path, location: "option TRACEID",
                                     problem: "guest trace id 0x\(String(traceID, radix: 16)) is named by the GUEST options of several host traces: "
                                        + matches.map(\.0.file.path).joined(separator: ", "))
            }
            if let hostID = host.file.traceID, let shift = file.timeShift, shift.peerTraceID != hostID {
                throw TraceReadError(file: file.path, location: "option TIME_SHIFT",
                                     problem: "its time samples are against trace id 0x\(String(shift.peerTraceID, radix: 16)), but the host trace "
                                        + "\(host.file.path) that names this guest is trace id 0x\(String(hostID, radix: 16))")
            }
            guard identities.allSatisfy({ $0.traceID != traceID }) else {
                throw TraceReadError(file: file.path, location: "option TRACEID",
                                     problem: "guest trace id 0x\(String(traceID, radix: 16)) is also the id of another guest file given")
            }
            let index = UInt16(identities.count + 1)
            guest.markAsGuest(index)
            var threads: [Int32: Int32] = [:]
            for (vcpu, tid) in entry.vcpuThreads { threads[vcpu] = tid }
            identities.append(GuestIdentity(index: index, name: entry.name, traceID: traceID, guestFile: file.path,
                                            hostFile: host.file.path, vcpuThreads: threads))
        }
        return identities
    }
}
