import Foundation

/// A real terminal for full-screen tests: a tmux server of the test's own (its own socket in the
/// test's directory, no user configuration) with one detached session of a fixed size running one
/// command. The pane stays after the command exits (remain-on-exit) so that its exit status and
/// screen state can be read. The server is killed, and then the directory removed, when this goes
/// away.
final class TmuxSession {
    static let executable = "/usr/bin/tmux"

    /// Why tmux cannot be used here, or nil when it can.
    static var unavailableReason: String? {
        FileManager.default.isExecutableFile(atPath: executable) ? nil : "\(executable) not installed (apt-get install tmux; .ci/run does)"
    }

    let directory: String
    let socket: String

    /// Starts `command` (argv, run without a shell) in a `columns` x `rows` session; `directory`
    /// holds the socket and the configuration, and whatever else the test puts there.
    init(command: [String], columns: Int, rows: Int, directory: String) throws {
        self.directory = directory
        socket = directory + "/tmux.sock"
        let configuration = directory + "/tmux.conf"
        // Set before the command starts, so that even a command that exits at once leaves its pane.
        try "set-option -g remain-on-exit on\n".write(toFile: configuration, atomically: true, encoding: .utf8)
        try run(["-f", configuration, "new-session", "-d", "-x", String(columns), "-y", String(rows)] + command)
    }

    /// A directory of the test's own for a session: `TMPDIR/hvtax-tmux-XXXXXX`.
    static func makeDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "hvtax-tmux-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw LiveTestFailure("mkdtemp failed: errno \(errno)") }
        return String(cString: made)
    }

    deinit {
        // The server first: it is reached through the socket in the directory.
        _ = try? run(["kill-server"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs one tmux command against this server and returns its standard output. Spawned with only
    /// stdin, stdout and stderr open (see SpawnedProcess) and no signal blocked (a test runner's
    /// thread may block some; a terminal session does not).
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let outputPath = directory + "/tmux.out"
        // tmux refuses to start without a terminal type, which a test runner may not have.
        let tmux = try SpawnedProcess(Self.executable, ["-S", socket] + arguments, outputPath: outputPath,
                                      environment: ["TERM": "xterm-256color"])
        let status = try tmux.wait()
        let output = String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
        // Exited normally with status 0: the low 7 bits (the signal) and the status byte both zero.
        guard status == 0 else {
            throw LiveTestFailure("tmux \(arguments.joined(separator: " ")) ended with wait status \(status ?? -1): \(output)")
        }
        return output
    }

    /// The visible screen, one string per row (trailing blanks trimmed by tmux); with `escapes`, the
    /// SGR sequences tmux re-creates for each cell's attributes and colours.
    func screen(escapes: Bool = false) throws -> [String] {
        let text = try run(["capture-pane", "-p"] + (escapes ? ["-e"] : []))
        var rows = text.components(separatedBy: "\n")
        if rows.last == "" { rows.removeLast() }
        return rows
    }

    /// A tmux format of the pane, e.g. `#{pane_dead_status}`, `#{alternate_on}`, `#{pane_tty}`.
    func value(_ format: String) throws -> String {
        try run(["display-message", "-p", format]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Keys by tmux name (`Enter`, `Escape`, `BSpace`, `s`).
    func press(_ keys: String...) throws { try run(["send-keys"] + keys) }

    /// Text typed as is, character by character.
    func type(_ text: String) throws { try run(["send-keys", "-l", text]) }

    func resize(columns: Int, rows: Int) throws {
        try run(["resize-window", "-x", String(columns), "-y", String(rows)])
    }

    /// Polls the screen every 50 ms until `accept` returns a value for it; throws with the last
    /// screen after `timeoutSeconds`.
    func wait<T>(for what: String, timeoutSeconds: Double = 20, escapes: Bool = false, _ accept: ([String]) throws -> T?) throws -> T {
        let start = Date()
        let deadline = start.addingTimeInterval(timeoutSeconds)
        var last: [String] = []
        repeat {
            last = try screen(escapes: escapes)
            if let found = try accept(last) {
                let waited = Date().timeIntervalSince(start)
                // Slow screens on a loaded machine show here, before they become timeouts.
                if waited > 1 { print("tmux: \(what) took \(String(format: "%.1f", waited)) s") }
                return found
            }
            usleep(50_000)
        } while Date() < deadline
        throw LiveTestFailure("no \(what) in \(timeoutSeconds) s; last screen:\n" + last.joined(separator: "\n"))
    }

    /// Polls a pane format until it has `expected`; throws with its last value after `timeoutSeconds`.
    func wait(until format: String, is expected: String, timeoutSeconds: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var last = ""
        repeat {
            last = try value(format)
            if last == expected { return }
            usleep(50_000)
        } while Date() < deadline
        throw LiveTestFailure("\(format) is \(last), not \(expected), after \(timeoutSeconds) s; screen:\n"
            + ((try? screen())?.joined(separator: "\n") ?? ""))
    }
}
