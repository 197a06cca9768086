import Foundation
import HVTaxFiles
@testable import HVTaxTracefs
import Testing

/// Output files appear whole or not at all, and their errors name them.
@Suite("output files")
struct OutputFileTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-output-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func entries(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    @Test func theFileAppearsOnlyWhenCommitted() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.txt"
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        let file = try OutputFile(path: path)
        try file.write("new, first half\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n", "readers see the old file while it is written")
        #expect(try Self.entries(dir) == [".out.txt.hvtax-\(getpid())", "out.txt"])
        try file.write("second half\n")
        try file.commit()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new, first half\nsecond half\n")
        #expect(try Self.entries(dir) == ["out.txt"])
    }

    @Test func aFileNeverCommittedLeavesTheOldOneAndNothingElse() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.txt"
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        do {
            let file = try OutputFile(path: path)
            try file.write("half")
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n")
        #expect(try Self.entries(dir) == ["out.txt"])
        do { _ = try OutputFile(path: dir + "/never.txt") }
        #expect(try Self.entries(dir) == ["out.txt"], "a file that did not exist still does not")
    }

    @Test func patchesLandWhereTheyAreAsked() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try OutputFile(path: dir + "/plain.txt")
        try file.write("0000 tail\n")
        try file.write(Array("1234".utf8), at: 0)
        try file.write("end\n")
        try file.commit()
        #expect(try String(contentsOfFile: dir + "/plain.txt", encoding: .utf8) == "1234 tail\nend\n")
    }

    @Test func devicesAndLinksAreWrittenInPlace() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let null = try OutputFile(path: "/dev/null")
        try null.write("discarded")
        try null.commit()
        var info = stat()
        #expect(lstat("/dev/null", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR, "still the device")
        // Through a link: the target gets the bytes and the link stays a link.
        try "old".write(toFile: dir + "/target.txt", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.txt", withDestinationPath: dir + "/target.txt")
        try OutputFile.write("through the link", to: dir + "/link.txt")
        #expect(try String(contentsOfFile: dir + "/target.txt", encoding: .utf8) == "through the link")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link.txt") == dir + "/target.txt")
    }

    @Test func errorsNameThePathAskedFor() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: OutputFileError(path: dir, problem: "is a directory")) { try OutputFile(path: dir) }
        #expect(throws: OutputFileError(path: dir + "/no/such/x.txt", problem: "No such file or directory")) {
            try OutputFile(path: dir + "/no/such/x.txt")
        }
        #expect("\(OutputFileError(path: "/x", problem: "No space left on device"))" == "/x: No space left on device")
    }

    /// record's spool folder went beside the output even for /dev/null (a folder in /dev).
    @Test func recordSpoolsBesideARegularOutputAndNeverInDev() {
        #expect(Recorder.spoolFolder(for: "traces/busy.dat") == "traces/.busy.dat.hvtax-spool-\(getpid())")
        #expect(Recorder.spoolFolder(for: "busy.dat") == ".busy.dat.hvtax-spool-\(getpid())")
        let device = Recorder.spoolFolder(for: "/dev/null")
        #expect(!device.hasPrefix("/dev/") && device.hasSuffix("/.hvtax-spool-\(getpid())"), "\(device)")
    }
}
