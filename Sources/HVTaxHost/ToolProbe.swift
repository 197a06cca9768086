import Foundation
import Synchronization

/// Whether a command-line tool (perf, trace-cmd) is installed and what version it reports.
public enum ToolFacts: Sendable, Equatable {
    case notFound(searched: [String])
    /// `version` is the first line the tool printed for its version arguments, or why that failed.
    case found(path: String, version: Result<String, HostError>)
}

public protocol ToolProbing: Sendable {
    func probe(_ name: String, versionArguments: [String]) -> ToolFacts
}

/// Looks the tool up in the search path under the host root, and runs it only on the live host:
/// a binary inside a fixture or a mounted image is not this machine's to run.
public struct LiveToolProbe: ToolProbing {
    public let fs: HostFileSystem
    public let searchPath: [String]
    public let timeoutSeconds: Double

    public init(fs: HostFileSystem, searchPath: [String], timeoutSeconds: Double = 10) {
        self.fs = fs
        self.searchPath = searchPath
        self.timeoutSeconds = timeoutSeconds
    }

    /// The directories of this process's PATH, absolute ones only (a relative entry depends on the
    /// working directory, not on the host).
    public static func environmentSearchPath() -> [String] {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        return path.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
    }

    public func probe(_ name: String, versionArguments: [String]) -> ToolFacts {
        guard let path = locate(name) else { return .notFound(searched: searchPath) }
        guard fs.isLiveRoot else {
            return .found(path: path, version: .failure(HostError(.run, path, reason: "not run: host root is \(fs.root)")))
        }
        return .found(path: path, version: Self.firstLine(of: path, arguments: versionArguments, timeout: timeoutSeconds))
    }

    func locate(_ name: String) -> String? {
        for directory in searchPath {
            let candidate = Tracefs.join(directory, name)
            if let status = try? fs.status(candidate), status.kind == .regular, status.isExecutableByAnyone {
                return candidate
            }
        }
        return nil
    }

    /// Runs the tool with stdin closed, collects stdout and stderr together (perf prints its
    /// wrapper's complaints on stderr), and kills it after `timeout`: a doctor must not hang.
    static func firstLine(of path: String, arguments: [String], timeout: Double) -> Result<String, HostError> {
        output(of: path, arguments: arguments, timeout: timeout, mergingErrors: true)
            .map { $0.split(separator: "\n").first.map(String.init) ?? "" }
    }

    /// The tool's whole output (stdout, and stderr too when `mergingErrors`), killed after
    /// `timeout`; a failure carries the first line it printed.
    static func output(of path: String, arguments: [String], timeout: Double, mergingErrors: Bool = false) -> Result<String, HostError> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        let errors = Pipe()
        process.standardOutput = pipe
        process.standardError = mergingErrors ? pipe : errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return .failure(HostError(.run, path, reason: "\(error)"))
        }
        let deadline = DispatchWorkItem { [process] in if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        // stderr drains on its own queue so a chatty tool cannot block on a full pipe.
        let errorText = Mutex<Data>(Data())
        let drained = DispatchSemaphore(value: 0)
        if !mergingErrors {
            DispatchQueue.global().async {
                let data = errors.fileHandleForReading.readDataToEndOfFile()
                errorText.withLock { $0 = data }
                drained.signal()
            }
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if !mergingErrors { drained.wait() }
        deadline.cancel()
        let text = String(decoding: output, as: UTF8.self)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let complaint = mergingErrors ? text : String(decoding: errorText.withLock { $0 }, as: UTF8.self)
            let line = complaint.split(separator: "\n").first.map(String.init) ?? ""
            let how =
                process.terminationReason == .uncaughtSignal
                ? "killed by signal \(process.terminationStatus)" : "exit status \(process.terminationStatus)"
            return .failure(HostError(.run, path, reason: line.isEmpty ? how : "\(how): \(line)"))
        }
        return .success(text)
    }
}

/// A canned answer per tool name, for fixture trees.
public struct FixedToolProbe: ToolProbing {
    public var tools: [String: ToolFacts]
    public init(_ tools: [String: ToolFacts]) { self.tools = tools }
    public func probe(_ name: String, versionArguments: [String]) -> ToolFacts {
        tools[name] ?? .notFound(searched: ["/usr/bin", "/bin"])
    }
}
