import ArgumentParser
import Foundation
import HVTaxExporters
import HVTaxHost
import HVTaxMetrics
import HVTaxModel
import HVTaxRender
import Synchronization

/// `hvtax snmp-pass`: a net-snmp `pass_persist` handler serving the hvtax subtree (HVTAX-MIB) from
/// the live view, so an existing SNMP monitoring system can poll hvtax through snmpd:
///
///     pass_persist .1.3.6.1.3.4837 /usr/local/bin/hvtax snmp-pass
struct SNMPPassCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snmp-pass",
        abstract: "Serve the hvtax subtree (mibs/HVTAX-MIB.txt) to snmpd as a pass_persist handler: per-VM tax, steal, exits and exit rate, per-vCPU steal.",
        discussion: """
            snmpd starts it and talks on stdin/stdout (PING, get, getnext). It samples the live view every \
            --interval in the background and answers from the latest interval, so a walk never waits for \
            sampling. The OID base must match the pass_persist line. docs/export.md has the object table.
            """)

    @Option(help: "Read /proc and /sys under this directory instead of / (a fixture tree).")
    var root: String = "/"

    @Option(help: "Sampling interval: 5s, 1s, 500ms.")
    var interval: DurationArgument = DurationArgument(argument: "5s")!

    @Option(help: ArgumentHelp("Serve the snapshots in this file (hvtax snapshot --format json, JSON Lines; re-read every --interval, new intervals appended are taken up) instead of sampling the host.", valueName: "file"))
    var snapshots: String?

    @Option(help: ArgumentHelp("The subtree's OID, as in snmpd.conf's pass_persist line.", valueName: "oid"))
    var base: String = SNMPSubtree.defaultBase.description

    func validate() throws {
        guard OID(base) != nil else { throw ValidationError("--base \(base): expected a numeric OID such as .1.3.6.1.3.4837") }
        guard interval.nanoseconds >= 10_000_000 else { throw ValidationError("--interval must be at least 10ms") }
        if let snapshots {
            guard FileManager.default.isReadableFile(atPath: snapshots) else { throw ValidationError("--snapshots \(snapshots): cannot be read") }
        } else {
            guard HostFileSystem(root: root).isDirectory("/proc") else { throw ValidationError("no /proc under \(root): not a host tree") }
        }
    }

    func run() throws {
        let base = OID(base)!
        let latest = LatestSubtree()
        let (root, intervalNs, file) = (root, interval.nanoseconds, snapshots)
        let sampler = Thread {
            var metrics = LiveMetrics()
            var rates = SNMPExitRates()
            func publish(_ snapshot: HostSnapshot) {
                let families = metrics.add(snapshot)
                let perSecond = rates.update(families, intervalSeconds: Double(snapshot.intervalNs) / 1e9)
                latest.publish(SNMPSubtree(families: families, base: base, exitsPerSecond: perSecond))
            }
            do {
                if let file {
                    var reader = SnapshotFileFollower(path: file)
                    while true {
                        for snapshot in try reader.newSnapshots() { publish(snapshot) }
                        _ = LiveLoop.sleep(intervalNs)
                    }
                }
                let loop = try LiveLoop(root: root, thresholds: .standard, filter: [])
                while true { publish(try loop.next(after: intervalNs)) }
            } catch {
                // snmpd does not show a handler's stderr by default; the walk then ends at the host scalars.
                StandardError.write("hvtax snmp-pass: sampling stopped: \(error)\n")
                latest.publish(SNMPSubtree(objects: []))
            }
        }
        sampler.start()
        var session = PassPersistSession(base: base)
        while let line = readLine(strippingNewline: true) {
            // The first interval takes --interval; snmpd's first get waits for it (at most 5 s).
            if let answer = session.answer(line, subtree: { latest.wait(upToNs: min(intervalNs * 2, 5_000_000_000)) }) {
                FileHandle.standardOutput.write(Data(answer.utf8))
            }
        }
    }
}

/// The latest interval's subtree, handed from the sampling thread to the protocol loop.
final class LatestSubtree: Sendable {
    private let current = Mutex<SNMPSubtree?>(nil)

    func publish(_ subtree: SNMPSubtree) { current.withLock { $0 = subtree } }

    /// The latest subtree, waiting for the first one at most `upToNs`; empty if none came.
    func wait(upToNs: UInt64) -> SNMPSubtree {
        var waited: UInt64 = 0
        while true {
            if let subtree = current.withLock({ $0 }) { return subtree }
            if waited >= upToNs { return SNMPSubtree(objects: []) }
            usleep(20_000)
            waited += 20_000_000
        }
    }
}

/// The snapshots of a JSON Lines file (`hvtax snapshot --format json`), each returned once: the
/// file is read again at every call and intervals after the last one seen are new.
struct SnapshotFileFollower {
    let path: String
    private var lastEndUnixNs: UInt64 = 0

    init(path: String) { self.path = path }

    mutating func newSnapshots() throws -> [HostSnapshot] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        // A last line without its newline may be one `hvtax snapshot >> file` is still writing: it
        // counts only once it decodes, and until then waits for the next read instead of failing.
        let end = data.lastIndex(of: 0x0a).map { $0 + 1 } ?? data.startIndex
        var snapshots: [HostSnapshot]
        do {
            snapshots = try JSONInput.decodeLines(HostSnapshot.self, from: data[..<end])
        } catch {
            throw CommandFailure("\(path), \(error.problem); expected hvtax.snapshot/1 objects (hvtax snapshot --format json)")
        }
        if end < data.endIndex, let last = try? JSONInput.decode(HostSnapshot.self, from: data[end...]) { snapshots.append(last) }
        var out: [HostSnapshot] = []
        for snapshot in snapshots {
            if snapshot.endUnixNs > lastEndUnixNs {
                out.append(snapshot)
                lastEndUnixNs = snapshot.endUnixNs
            }
        }
        return out
    }
}
