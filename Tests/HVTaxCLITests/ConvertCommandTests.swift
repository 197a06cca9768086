import Foundation
import Testing

/// `hvtax convert` as a user runs it: the output is whole or absent, wherever the run ends.
struct ConvertCommandTests {
    static func folder(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static var example: String { CommandLineTests.repository.appendingPathComponent("examples/three-vms.ftrace.txt.gz").path }

    /// The converted file reports what the text does, and the folder holds nothing but it.
    @Test func theConvertedTraceReportsWhatTheTextDoes() throws {
        let dir = try Self.folder("convert")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let converted = try CommandLineTests.hvtax(["convert", Self.example, "-o", dir + "/three.dat"])
        #expect(converted.status == 0, "\(converted.stderr)")
        #expect(converted.stderr.contains("wrote \(dir)/three.dat: 20020 events"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["three.dat"], "no spool or temporary file left")
        let fromText = try CommandLineTests.hvtax(["report", Self.example, "--format", "json"])
        let fromDat = try CommandLineTests.hvtax(["report", dir + "/three.dat", "--format", "json"])
        func host(_ json: String) throws -> [String: Any] {
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            return try #require(report["host"] as? [String: Any])
        }
        let a = try host(fromText.stdout), b = try host(fromDat.stdout)
        #expect(a["split"] as? [String: Int] == b["split"] as? [String: Int])
        #expect(a["vcpuCount"] as? Int == 6 && b["vcpuCount"] as? Int == 6)
    }

    /// A folder that does not exist was met only after the whole input was read, and the error
    /// named a spool file ("/nonexistent/hvtax-encode-1193-cpu0") instead of the output.
    @Test func anOutputThatCannotBeWrittenIsNamedAtOnce() throws {
        let missing = try CommandLineTests.hvtax(["convert", Self.example, "-o", "/nonexistent-hvtax/x.dat"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "hvtax convert: /nonexistent-hvtax/x.dat: No such file or directory\n")
        let dir = try Self.folder("convert-dir")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = try CommandLineTests.hvtax(["convert", Self.example, "-o", dir])
        #expect(folder.status == 1 && folder.stderr == "hvtax convert: \(dir): is a directory\n")
        // A device is written in place, never renamed over.
        let null = try CommandLineTests.hvtax(["convert", Self.example, "-o", "/dev/null"])
        #expect(null.status == 0)
        var info = stat()
        #expect(lstat("/dev/null", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
    }

    /// SIGTERM in the middle: the old file is still there, unchanged, and nothing else is (the
    /// per-CPU spool files used to stay in the output's folder).
    @Test func aSignalLeavesTheOldFileAndNothingElse() throws {
        let dir = try Self.folder("convert-stop")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let output = dir + "/out.dat"
        try "the previous conversion\n".write(toFile: output, atomically: false, encoding: .utf8)
        let synth = try CommandLineTests.hvtax(["synth", "--events", "20000", "--seed", "3"])
        try #require(synth.status == 0)
        let text = synth.stdout
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)

        let process = Process()
        process.executableURL = CommandLineTests.binary
        process.arguments = ["convert", "-", "-o", output]
        let input = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Half the trace, then the signal while the converter waits for more, then the rest.
        let half = lines.count / 2
        input.fileHandleForWriting.write(Data((lines[..<half].joined(separator: "\n") + "\n").utf8))
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == [".out.dat.hvtax-\(process.processIdentifier)", "out.dat"],
                "only the hidden file being written, and no spool file, while it runs")
        kill(process.processIdentifier, SIGTERM)
        // It stops within 4,096 events of the signal, so the rest may meet a closed pipe.
        signal(SIGPIPE, SIG_IGN)
        try? input.fileHandleForWriting.write(contentsOf: Data(lines[half...].joined(separator: "\n").utf8))
        try? input.fileHandleForWriting.close()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(said == "hvtax convert: stopped by a signal before the end of the input; nothing written\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.dat"])
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "the previous conversion\n")
    }
}

/// Every file a command writes: a path that cannot be written is said at once, as `path: reason`
/// (--html and synth --truth printed a Foundation error dump; synth -o and --perfetto the reason
/// alone, without the path).
struct OutputPathTests {
    @Test(arguments: [
        ["report", ConvertCommandTests.example, "--html", "/nonexistent-hvtax/r.html"],
        ["report", ConvertCommandTests.example, "--perfetto", "/nonexistent-hvtax/p.json"],
        ["compare", ConvertCommandTests.example, ConvertCommandTests.example, "--html", "/nonexistent-hvtax/c.html"],
        ["synth", "--events", "1000", "-o", "/nonexistent-hvtax/s.txt"],
        ["synth", "--events", "1000", "--truth", "/nonexistent-hvtax/t.json"],
    ])
    func anOutputInAFolderThatDoesNotExist(_ arguments: [String]) throws {
        let result = try CommandLineTests.hvtax(arguments)
        #expect(result.status == 1)
        #expect(result.stderr == "Error: \(arguments.last!): No such file or directory\n", "\(result.stderr)")
        #expect(result.stdout.isEmpty, "nothing analysed or generated before the error")
    }

    /// record met a folder that does not exist only after recording, and named its spool folder.
    @Test func recordSaysSoBeforeRecording() throws {
        let result = try CommandLineTests.hvtax(["record", "-o", "/nonexistent-hvtax/r.dat", "--duration", "30s"])
        #expect(result.status == 1)
        #expect(result.stderr == "hvtax record: writing the trace: /nonexistent-hvtax/r.dat: No such file or directory\n", "\(result.stderr)")
    }

    /// A bare file name is written in the working folder (its hidden name beside it, not in "/").
    @Test func aRelativeOutput() throws {
        let dir = try ConvertCommandTests.folder("relative")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = Process()
        process.executableURL = CommandLineTests.binary
        process.arguments = ["synth", "--events", "1000", "-o", "s.txt", "--truth", "t.json"]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["s.txt", "t.json"])
    }
}
