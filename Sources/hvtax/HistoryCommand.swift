import ArgumentParser
import Foundation
import HVTaxServe

/// `hvtax history`: what `hvtax serve` stored, per VM or for the host.
struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Print the history hvtax serve keeps: per VM on-CPU, tax, steal, VMM overhead, exits/s per interval or minute.",
        discussion: """
            Raw intervals where they are still kept, minute averages before that (history.raw_retention and \
            minute_retention in the serve config). --vm "" is the host (all VMs together).
            """)

    // --history too: the name `hvtax serve` gives the same file.
    @Option(name: [.customLong("database"), .customLong("history")],
            help: ArgumentHelp("The history database (history.path of the serve config; serve's --history).", valueName: "file"))
    var database: String?

    @Option(help: ArgumentHelp("Read history.path from this serve config file.", valueName: "file"))
    var config: String?

    @Option(help: "Only this VM (its vm label); \"\" for the host. All VMs when absent.")
    var vm: String?

    @Option(help: ArgumentHelp("How far back: 30m, 2h, 7d.", valueName: "duration"))
    var since: String = "1h"

    @Option(help: "csv or json.")
    var format: HistoryQuery.Format = .csv

    func validate() throws {
        _ = try query()
    }

    private func query() throws -> HistoryQuery {
        do { return try HistoryQuery(vm: vm, since: since, format: format.rawValue) } catch { throw ValidationError("--\(error)") }
    }

    func run() throws {
        let query = try query()
        var path = database
        if path == nil, let config {
            do { path = try ServeConfiguration.load(path: config).history.path } catch { throw CommandFailure("\(error)") }
        }
        guard let path, !path.isEmpty else { throw ValidationError("give --database FILE or --config FILE with history.path") }
        guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("\(path): no such history database") }
        let store = try HistoryStore(configuration: HistoryConfiguration(path: path))
        print(try query.render(query.rows(from: store)), terminator: "")
    }
}

extension HistoryQuery.Format: ExpressibleByArgument {}
