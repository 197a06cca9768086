import Foundation
import Testing

/// A directory of its own for each test that writes files, created before the test runs and removed
/// with everything in it when the test ends, passed or failed: a test suite that is run again and
/// again must not leave its inputs behind in /tmp.
///
/// Mark a suite or a test `.scratchDirectory`; helpers it calls then put their files under
/// `ScratchDirectory.current`. A task-local rather than a parameter, so that helpers shared by many
/// tests keep their signatures and two tests running in parallel never share a directory.
public struct ScratchDirectory: TestTrait, SuiteTrait, TestScoping {
    @TaskLocal private static var active: URL?

    /// A suite's mark reaches every test in it, each with a directory of its own.
    public var isRecursive: Bool { true }

    /// The running test's directory. Throws when the test is not marked: files written anywhere else
    /// would be left behind.
    public static var current: URL {
        get throws {
            guard let active else { throw Unmarked() }
            return active
        }
    }

    /// A path for `name` in the running test's directory.
    public static func path(_ name: String) throws -> String {
        try current.appendingPathComponent(name).path
    }

    /// A folder `name` made in the running test's directory, for a test that hands a whole folder
    /// to what it runs (a config directory, a host tree, a server's data).
    public static func folder(_ name: String) throws -> String {
        let folder = try path(name)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    struct Unmarked: Error, CustomStringConvertible {
        var description: String {
            "ScratchDirectory.current used by a test not marked .scratchDirectory"
        }
    }

    /// One directory per test case (each argument of a parameterised test gets its own), none for
    /// the suite as a whole.
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> ScratchDirectory? {
        testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("hvtax-test-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await Self.$active.withValue(directory) { try await function() }
    }
}

extension Trait where Self == ScratchDirectory {
    /// Gives each test its own temporary directory, removed when the test ends.
    public static var scratchDirectory: ScratchDirectory { ScratchDirectory() }
}
