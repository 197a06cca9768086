import Foundation
import GRDB
import HVTaxServe
import HVTaxTestSupport
import Testing

/// The history survives kill -9 at any moment: serve writes an interval every 20 ms and logs each
/// commit after it returns; it is killed with SIGKILL at random points, again and again, on the
/// same database. Afterwards SQLite's integrity check passes and every interval it said it had
/// committed is there, with all its rows.
@Suite("history under kill -9", .serialized, .scratchDirectory)
struct HistoryCrashTests {
    @Test("SIGKILL mid-write, 8 times: integrity_check ok, no committed interval lost")
    func killNine() throws {
        let dir = try ScratchDirectory.folder("kill")
        let vms = 20
        let root = try ServeTestSupport.hostTree(in: dir, vms: vms, vcpus: 2)
        let database = dir + "/history.db"
        var committed: [Int64] = []
        for round in 0..<8 {
            let serve = try ServeProcess(
                arguments: ["--root", root, "--interval", "20ms", "--history", database, "--log-level", "debug"], waitForSample: false)
            // Let it write a few intervals (the first ends after 20 ms), then kill it at a random point.
            _ = ServeTestSupport.waitFor(10) { serve.text.components(separatedBy: "history committed").count > 3 }
            usleep(UInt32.random(in: 0...150_000))
            kill(serve.pid, SIGKILL)
            serve.process.waitUntilExit()
            #expect(serve.process.terminationReason == .uncaughtSignal, "round \(round)")
            let lines = serve.text.split(separator: "\n").filter { $0.contains("history committed") }
            let times = lines.compactMap { line -> Int64? in
                guard let range = line.range(of: #"end_unix_ns=[0-9]+"#, options: .regularExpression) else { return nil }
                return Int64(line[range].dropFirst("end_unix_ns=".count))
            }
            #expect(times.count == lines.count)
            committed += times
        }
        #expect(committed.count >= 8 * 3)

        let store = try HistoryStore(configuration: HistoryConfiguration(path: database))
        #expect(try store.integrityCheck() == "ok")
        let queue = try DatabaseQueue(path: database)
        try queue.read { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            for time in committed {
                let rows = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM vm_samples WHERE end_unix_ns = ?", arguments: [time]) ?? 0
                #expect(rows == vms + 1, "interval ending \(time): \(rows) rows, expected \(vms) VMs + the host")
            }
            // Nothing half-written either: every interval stored has all its rows.
            let partial = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM (SELECT end_unix_ns FROM vm_samples GROUP BY end_unix_ns HAVING COUNT(*) != ?)
                """, arguments: [vms + 1])
            #expect(partial == 0)
        }
        print("history crash test: \(committed.count) committed intervals over 8 kills, all present, integrity_check ok")
    }

    @Test("hvtax history and /api/v1/history read what serve wrote: per VM, the host, CSV and JSON")
    func historyCommand() throws {
        let dir = try ScratchDirectory.folder("histcli")
        let root = try ServeTestSupport.hostTree(in: dir, vms: 3, vcpus: 2)
        let database = dir + "/history.db"
        let serve = try ServeProcess(arguments: ["--root", root, "--interval", "100ms", "--history", database, "--log-level", "debug"])
        _ = ServeTestSupport.waitFor(10) { serve.text.components(separatedBy: "history committed").count > 4 }
        let api = try ServeTestSupport.curl(["http://\(serve.address)/api/v1/history?vm=vm1&since=10m&format=csv"])
        #expect(api.http == 200)
        #expect(api.body.hasPrefix("time_unix_ns,resolution,vm,pid,samples,vcpus,on_cpu,steal,tax,vmm_overhead,exits_per_second,worst_vcpu_steal\n"))
        #expect(api.body.split(separator: "\n").dropFirst().allSatisfy { $0.contains(",raw,vm1,10100,1,2,") })
        // A since that is not a duration was taken as an hour, and a format other than csv as JSON.
        for (query, says) in [("since=yesterday", "since: expected a duration such as 30m, 2h or 7d, found \"yesterday\""),
                              ("since=0s", "since: expected"), ("format=xml", "format: expected csv or json, found \"xml\"")] {
            let refused = try ServeTestSupport.curl(["http://\(serve.address)/api/v1/history?\(query)"])
            #expect(refused.http == 400 && refused.body.hasPrefix(says), "\(query): \(refused.http) \(refused.body)")
        }
        // A window reaching before 1970 is everything, not nothing (the cutoff wrapped round).
        let forever = try ServeTestSupport.curl(["http://\(serve.address)/api/v1/history?since=100000d&vm=vm1"])
        #expect(forever.http == 200)
        #expect((try JSONSerialization.jsonObject(with: Data(forever.body.utf8)) as? [Any])?.isEmpty == false)
        #expect(serve.stop() == 0)
        let committed = serve.text.components(separatedBy: "history committed").count - 1

        let csv = try ServeTestSupport.run(ServeTestSupport.hvtax, ["history", "--database", database, "--vm", "vm2", "--since", "1h"])
        #expect(csv.status == 0)
        let lines = csv.output.split(separator: "\n")
        #expect(lines.count == committed + 1, "one raw row per committed interval, and the header")
        // --history, the option serve writes the same file under, names it too.
        let json = try ServeTestSupport.run(ServeTestSupport.hvtax, ["history", "--history", database, "--vm", "", "--format", "json"])
        let rows = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]]
        #expect(rows?.count == committed)
        #expect(rows?.allSatisfy { $0["vm"] as? String == "" && $0["vcpus"] as? Int == 6 } == true, "the host row: all 6 vCPUs")
        let all = try ServeTestSupport.run(ServeTestSupport.hvtax, ["history", "--database", database, "--format", "json"])
        #expect((try JSONSerialization.jsonObject(with: Data(all.output.utf8)) as? [Any])?.count == committed * 4)
        let longAgo = try ServeTestSupport.run(ServeTestSupport.hvtax, ["history", "--database", database, "--since", "100000d"])
        #expect(longAgo.status == 0 && longAgo.output.split(separator: "\n").count == committed * 4 + 1)
        let notADuration = try ServeTestSupport.run(ServeTestSupport.hvtax, ["history", "--database", database, "--since", "2 hours"])
        #expect(notADuration.status == 64 && notADuration.output.contains("--since: expected a duration such as 30m, 2h or 7d, found \"2 hours\""))
        let missing = try ServeTestSupport.run(ServeTestSupport.hvtax, ["history", "--database", dir + "/nope.db"])
        #expect(missing.status != 0 && missing.output.contains("nope.db: no such history database"))
    }

    @Test("minute averages, retention, and the query switching from minutes to raw rows")
    func downsampling() throws {
        let dir = try ScratchDirectory.folder("minutes")
        let store = try HistoryStore(configuration: HistoryConfiguration(
            path: dir + "/h.db", rawRetention: ConfigDuration("10m")!, minuteRetention: ConfigDuration("1h")!))
        // 90 minutes of 30 s intervals for one VM, steal = minute index / 100; in odd minutes the
        // second interval sees a third vCPU (hot-plugged), so the minute says 3.
        let start: UInt64 = 1_795_000_000 / 60 * 60 * 1_000_000_000
        for i in 0..<180 {
            let minute = i / 2
            var snapshot = HistoryFixtures.snapshot(steal: Double(minute) / 100 + (i % 2 == 0 ? 0.001 : -0.001),
                                                    vcpus: minute % 2 == 1 && i % 2 == 1 ? 3 : 2)
            snapshot.endUnixNs = start + UInt64(i) * 30_000_000_000
            snapshot.sequence = i + 1
            try store.record(snapshot)
        }
        let now = start + 179 * 30_000_000_000
        let rows = try store.rows(vm: "w", sinceUnixNs: start)
        let minutes = rows.filter { $0.resolution == "minute" }
        let raw = rows.filter { $0.resolution == "raw" }
        // Retention is applied at each minute's rollup: the last one ran with the first interval of
        // the last minute (i = 178) and dropped raw rows older than 10 minutes before it (i < 158).
        #expect(raw.first?.timeUnixNs == start + 158 * 30_000_000_000)
        #expect(raw.count == 22)
        #expect(minutes.allSatisfy { $0.timeUnixNs >= now - 3_600_000_000_000 - 60_000_000_000 })
        #expect(!minutes.isEmpty)
        for m in minutes {
            let index = Double((m.timeUnixNs - start) / 60_000_000_000)
            #expect(m.samples == 2)
            #expect(m.vcpus == (Int(index) % 2 == 1 ? 3 : 2), "minute \(index): the most vCPUs of its intervals")
            #expect(abs((m.steal ?? -1) - index / 100) < 1e-9, "minute \(index): the mean of its two intervals")
        }
        #expect(minutes.last!.timeUnixNs < raw.first!.timeUnixNs, "minutes first, then raw")
        #expect(try store.integrityCheck() == "ok")
    }

    /// A history begun at 12:00:59.5 had the 12:00 average rolled up at 12:01 and still kept its raw
    /// rows: a query gave both, one interval counted twice (seen as a red CI run of historyCommand).
    @Test("the minute of the oldest raw row comes as raw rows only")
    func noMinuteTwice() throws {
        let dir = try ScratchDirectory.folder("minute-twice")
        let store = try HistoryStore(configuration: HistoryConfiguration(path: dir + "/h.db"))
        let minute: UInt64 = 1_795_000_000 / 60 * 60 * 1_000_000_000
        // Ten intervals of 100 ms from 59.5 s into a minute: five in it, five in the next.
        for i in 0..<10 {
            var snapshot = HistoryFixtures.snapshot(steal: 0.01, vcpus: 2)
            snapshot.endUnixNs = minute + 59_500_000_000 + UInt64(i) * 100_000_000
            snapshot.sequence = i + 1
            try store.record(snapshot)
        }
        #expect(try store.counts().minutes == 2, "the first minute is rolled up (the host and the VM)")
        let rows = try store.rows(vm: "w", sinceUnixNs: minute - 600_000_000_000)
        #expect(rows.count == 10)
        #expect(rows.allSatisfy { $0.resolution == "raw" }, "\(rows.map(\.resolution))")
    }

    /// SQLite's message alone ("disk I/O error - while executing COMMIT TRANSACTION") named no file,
    /// and for /dev/null it had already created /dev/null-journal.
    @Test("a history file that is no database: the error names it")
    func notADatabase() throws {
        let dir = try ScratchDirectory.folder("not-a-db")
        let text = dir + "/notes.txt"
        try String(repeating: "not a database\n", count: 100).write(toFile: text, atomically: true, encoding: .utf8)
        for path in [text, "/dev/null"] {
            #expect {
                _ = try HistoryStore(configuration: HistoryConfiguration(path: path))
            } throws: { error in
                "\(error)".hasPrefix("history \(path): expected an SQLite database hvtax can write (")
            }
        }
        #expect(try String(contentsOfFile: text, encoding: .utf8).hasPrefix("not a database"), "the file is left as it was")
        #expect(!FileManager.default.fileExists(atPath: "/dev/null-journal"), "nothing written beside a device")
    }

    @Test("a history written before minutes kept their vCPU count opens, and says unknown, not 0")
    func historyFromTheFirstSchema() throws {
        let dir = try ScratchDirectory.folder("schema1")
        let path = dir + "/old.db"
        // The first schema, as hvtax-history-1 created it, with one minute already rolled up.
        let old = try DatabaseQueue(path: path)
        try old.write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('hvtax-history-1');
                CREATE TABLE vm_samples (
                  end_unix_ns INTEGER NOT NULL, interval_ns INTEGER NOT NULL, sequence INTEGER NOT NULL,
                  vm TEXT NOT NULL, pid INTEGER, vcpus INTEGER NOT NULL, on_cpu REAL NOT NULL,
                  steal REAL, tax REAL, vmm_overhead REAL, exits_per_second REAL, worst_vcpu_steal REAL,
                  PRIMARY KEY (vm, end_unix_ns)) WITHOUT ROWID;
                CREATE TABLE vm_minutes (
                  minute_unix_s INTEGER NOT NULL, vm TEXT NOT NULL, samples INTEGER NOT NULL, on_cpu REAL NOT NULL,
                  steal REAL, tax REAL, vmm_overhead REAL, exits_per_second REAL, worst_vcpu_steal REAL,
                  PRIMARY KEY (vm, minute_unix_s)) WITHOUT ROWID;
                INSERT INTO vm_minutes VALUES (1794999960, 'w', 2, 0.5, 0.25, 0.1, 0, NULL, 0.25);
                """)
        }
        try old.close()
        let store = try HistoryStore(configuration: HistoryConfiguration(
            path: path, rawRetention: ConfigDuration("30s")!, minuteRetention: ConfigDuration("100000d")!))
        // A minute of two intervals, rolled up by the third (the next minute's first); the fifth
        // rolls up the next minute and drops the raw rows of the first (retention goes a minute at a
        // time): the query then returns that minute as a minute row, the next one as raw rows.
        let start: UInt64 = 1_795_000_020 * 1_000_000_000
        for i in 0..<5 {
            var snapshot = HistoryFixtures.snapshot(steal: 0.1, vcpus: 2)
            snapshot.endUnixNs = start + UInt64(i) * 30_000_000_000
            try store.record(snapshot)
        }
        let minutes = try store.rows(vm: "w", sinceUnixNs: 1_794_999_960 * 1_000_000_000).filter { $0.resolution == "minute" }
        #expect(minutes.map(\.timeUnixNs) == [1_794_999_960 * 1_000_000_000, 1_795_000_020 * 1_000_000_000])
        #expect(minutes.map(\.vcpus) == [nil, 2])
        #expect(minutes.first?.steal == 0.25)
        let csv = HistoryRenderer.csv(minutes).split(separator: "\n")
        #expect(csv[1].hasPrefix("1794999960000000000,minute,w,,2,,0.5,"), "an unknown count is an empty cell: \(csv[1])")
        #expect(try store.integrityCheck() == "ok")
    }
}
