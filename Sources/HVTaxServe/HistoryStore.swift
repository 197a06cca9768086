import Foundation
import GRDB
import HVTaxMetrics
import HVTaxModel

/// The history database could not be opened, created or brought to the current schema.
public struct HistoryStoreError: Error, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var description: String { "history \(path): expected an SQLite database hvtax can write (\(problem))" }
}

/// The embedded history: one row per VM (and one for the host, `vm` = "") and interval, kept raw
/// for `raw_retention`, rolled up into minute averages kept for `minute_retention`.
///
/// Crash safety: SQLite in WAL mode, one transaction per interval, `synchronous=FULL` so a
/// committed interval survives a kill -9 (and a power cut) and a half-written one leaves no trace;
/// the rollup and the retention deletes run inside the same transaction as the insert.
public final class HistoryStore: Sendable {
    public let path: String
    public let configuration: HistoryConfiguration
    private let pool: DatabasePool

    public init(configuration: HistoryConfiguration) throws {
        self.configuration = configuration
        path = configuration.path
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        config.busyMode = .timeout(5)
        // A device or directory is refused before SQLite sees it: it would put its journal beside
        // it (/dev/null-journal) and only then fail.
        var status = stat()
        if stat(path, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
            throw HistoryStoreError(path: path, problem: "not a regular file")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch {
            // SQLite's own message names no file ("disk I/O error - while executing COMMIT").
            throw HistoryStoreError(path: path, problem: "\(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("hvtax-history-1") { db in
            try db.execute(sql: """
                CREATE TABLE vm_samples (
                  end_unix_ns INTEGER NOT NULL, interval_ns INTEGER NOT NULL, sequence INTEGER NOT NULL,
                  vm TEXT NOT NULL, pid INTEGER, vcpus INTEGER NOT NULL, on_cpu REAL NOT NULL,
                  steal REAL, tax REAL, vmm_overhead REAL, exits_per_second REAL, worst_vcpu_steal REAL,
                  PRIMARY KEY (vm, end_unix_ns)) WITHOUT ROWID;
                CREATE INDEX vm_samples_time ON vm_samples(end_unix_ns);
                CREATE TABLE vm_minutes (
                  minute_unix_s INTEGER NOT NULL, vm TEXT NOT NULL, samples INTEGER NOT NULL, on_cpu REAL NOT NULL,
                  steal REAL, tax REAL, vmm_overhead REAL, exits_per_second REAL, worst_vcpu_steal REAL,
                  PRIMARY KEY (vm, minute_unix_s)) WITHOUT ROWID;
                CREATE INDEX vm_minutes_time ON vm_minutes(minute_unix_s);
                """)
        }
        // Minute rows said 0 vCPUs: the most vCPU threads any interval of the minute saw. Minutes
        // rolled up before this column existed keep NULL (unknown), not a made-up count.
        migrator.registerMigration("hvtax-history-2") { db in
            try db.execute(sql: "ALTER TABLE vm_minutes ADD COLUMN vcpus INTEGER")
        }
        return migrator
    }

    /// One row of history: a raw interval or a minute's average.
    public struct Row: Codable, Sendable, Equatable {
        /// `raw` or `minute`.
        public var resolution: String
        /// End of the interval (raw) or start of the minute, Unix ns.
        public var timeUnixNs: UInt64
        public var vm: String
        public var pid: Int32?
        public var samples: Int
        /// vCPU threads in the interval; for a minute, the most any of its intervals saw (nil for
        /// minutes kept from before the history recorded it).
        public var vcpus: Int?
        public var onCPU: Double
        public var steal: Double?
        public var tax: Double?
        public var vmmOverhead: Double?
        public var exitsPerSecond: Double?
        public var worstVCPUSteal: Double?
    }

    /// Writes the interval's rows in one transaction (with the rollup of any minute that is now
    /// complete and the retention deletes). Returns the number of rows written once committed.
    @discardableResult
    public func record(_ snapshot: HostSnapshot) throws -> Int {
        let names = LiveMetrics.vmLabels(snapshot.vms)
        let t = Int64(clamping: snapshot.endUnixNs)
        return try pool.write { db in
            var rows = 0
            var hostTax = 0.0, hostOnCPU = 0.0, hostDelay = 0.0, vcpus = 0, hostExits: Double?, worst: Double?, onCPU = 0.0
            for (vm, name) in zip(snapshot.vms, names) {
                let tax = VCPUStateSplit.tax(of: vm, intervalNs: snapshot.intervalNs)
                let worstSteal = vm.vcpus.compactMap(\.steal.ratio).max()
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO vm_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [t, Int64(clamping: snapshot.intervalNs), snapshot.sequence, name, vm.pid, vm.vcpus.count,
                                vm.vcpuOnCPU, vm.steal.ratio, tax.ratio, vm.vmmOverhead.ratio, vm.exitsPerSecond, worstSteal])
                rows += 1
                hostTax += tax.taxNs
                hostOnCPU += tax.onCPUNs
                hostDelay += Double(vm.vcpus.reduce(0) { $0 + $1.runDelayNs })
                vcpus += vm.vcpus.count
                onCPU += vm.vcpuOnCPU
                if let e = vm.exitsPerSecond { hostExits = (hostExits ?? 0) + e }
                if let w = worstSteal { worst = max(worst ?? 0, w) }
            }
            let hostSteal: Double? = vcpus > 0 ? hostDelay / (Double(snapshot.intervalNs) * Double(vcpus)) : nil
            try db.execute(
                sql: "INSERT OR REPLACE INTO vm_samples VALUES (?, ?, ?, '', NULL, ?, ?, ?, ?, NULL, ?, ?)",
                arguments: [t, Int64(clamping: snapshot.intervalNs), snapshot.sequence, vcpus, onCPU, hostSteal,
                            hostOnCPU > 0 ? hostTax / hostOnCPU : nil, hostExits, worst])
            rows += 1
            try rollUp(db, now: t)
            return rows
        }
    }

    /// Averages every complete minute not rolled up yet, then drops what retention says.
    private func rollUp(_ db: Database, now: Int64) throws {
        let currentMinute = now / 60_000_000_000
        let done = try Int64.fetchOne(db, sql: "SELECT MAX(minute_unix_s) FROM vm_minutes") ?? -1
        let from = done >= 0 ? (done / 60 + 1) * 60_000_000_000 : 0
        let to = currentMinute * 60_000_000_000
        guard to > from else { return }
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO vm_minutes (minute_unix_s, vm, samples, vcpus, on_cpu, steal, tax, vmm_overhead,
                                                   exits_per_second, worst_vcpu_steal)
                SELECT (end_unix_ns / 60000000000) * 60, vm, COUNT(*), MAX(vcpus), AVG(on_cpu), AVG(steal), AVG(tax),
                       AVG(vmm_overhead), AVG(exits_per_second), MAX(worst_vcpu_steal)
                FROM vm_samples WHERE end_unix_ns >= ? AND end_unix_ns < ? GROUP BY vm, end_unix_ns / 60000000000
                """, arguments: [from, to])
        // Raw rows go a whole minute at a time, so the oldest one kept starts a minute whose
        // average `rows` then leaves out: the minutes before it cover all that was dropped.
        let rawCutoff = (now - Int64(clamping: configuration.rawRetention.nanoseconds)) / 60_000_000_000 * 60_000_000_000
        try db.execute(sql: "DELETE FROM vm_samples WHERE end_unix_ns < ?", arguments: [rawCutoff])
        try db.execute(sql: "DELETE FROM vm_minutes WHERE minute_unix_s < ?",
                       arguments: [(now - Int64(clamping: configuration.minuteRetention.nanoseconds)) / 1_000_000_000])
    }

    /// The rows of one VM ("" for the host, nil for all) since a time: minute averages for the minutes
    /// that ended before the oldest raw row still kept, raw rows after, oldest first. The minute the
    /// oldest raw row falls in is left to its raw rows: its average as well counted it twice (a
    /// history begun at 12:00:59 gave the 12:00 average and its raw rows side by side).
    public func rows(vm: String?, sinceUnixNs: UInt64, untilUnixNs: UInt64 = .max) throws -> [Row] {
        let since = Int64(clamping: sinceUnixNs)
        let until = Int64(clamping: untilUnixNs)
        return try pool.read { db in
            let oldestRaw = try Int64.fetchOne(db, sql: "SELECT MIN(end_unix_ns) FROM vm_samples") ?? .max
            var out: [Row] = []
            let vmFilter = vm == nil ? "" : " AND vm = ?"
            if since < oldestRaw {
                var args: StatementArguments = [since / 1_000_000_000 / 60 * 60, oldestRaw / 1_000_000_000, until / 1_000_000_000]
                if let vm { args += [vm] }
                for r in try GRDB.Row.fetchAll(db, sql: """
                    SELECT * FROM vm_minutes WHERE minute_unix_s >= ? AND minute_unix_s + 60 <= ? AND minute_unix_s < ?\(vmFilter)
                    ORDER BY minute_unix_s, vm
                    """, arguments: args) {
                    out.append(Row(resolution: "minute", timeUnixNs: UInt64(r["minute_unix_s"] as Int64) * 1_000_000_000, vm: r["vm"],
                                   pid: nil, samples: r["samples"], vcpus: r["vcpus"], onCPU: r["on_cpu"], steal: r["steal"], tax: r["tax"],
                                   vmmOverhead: r["vmm_overhead"], exitsPerSecond: r["exits_per_second"],
                                   worstVCPUSteal: r["worst_vcpu_steal"]))
                }
            }
            var args: StatementArguments = [since, until]
            if let vm { args += [vm] }
            for r in try GRDB.Row.fetchAll(db, sql: """
                SELECT * FROM vm_samples WHERE end_unix_ns >= ? AND end_unix_ns <= ?\(vmFilter) ORDER BY end_unix_ns, vm
                """, arguments: args) {
                out.append(Row(resolution: "raw", timeUnixNs: UInt64(r["end_unix_ns"] as Int64), vm: r["vm"], pid: r["pid"], samples: 1,
                               vcpus: r["vcpus"], onCPU: r["on_cpu"], steal: r["steal"], tax: r["tax"],
                               vmmOverhead: r["vmm_overhead"], exitsPerSecond: r["exits_per_second"],
                               worstVCPUSteal: r["worst_vcpu_steal"]))
            }
            return out
        }
    }

    /// `PRAGMA integrity_check`: "ok" for a sound database.
    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    /// Rows per table, for the status page.
    public func counts() throws -> (raw: Int, minutes: Int) {
        try pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM vm_samples") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM vm_minutes") ?? 0)
        }
    }
}
