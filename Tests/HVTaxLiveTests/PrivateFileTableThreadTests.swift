import CKVM
import Foundation
@testable import HVTaxHost
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The sampler opens, reads and closes its counter files on a thread with a descriptor table of its
/// own. These tests check, on this kernel, what that rests on: a job runs on that thread and returns
/// or throws there; a descriptor opened in a job is in that thread's table and not in the process's;
/// the thread's table holds none of the process's other files (a pipe closed elsewhere ends); and a
/// sampler that goes away closes its files in its own table, leaving the caller's descriptors with the
/// same numbers alone.
@Suite("the sampler's reading thread and its private descriptor table")
struct PrivateFileTableThreadTests {
    struct Refused: Error, Equatable { var code: Int }

    /// What descriptor `fd` of thread `tid` of this process is (the target of its /proc link), nil
    /// when that thread has no such descriptor.
    static func target(_ fd: CInt, tid: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(getpid())/task/\(tid)/fd/\(fd)")
    }

    /// Skips (saying why) where the kernel refused the thread a table of its own.
    static func privateThread() -> PrivateFileTableThread? {
        let thread = PrivateFileTableThread(name: "hvtax-test-rd")
        guard thread.isPrivate else {
            print("skipped: the reading thread shares the process's descriptor table here (\(thread.whyShared ?? "?"))")
            return nil
        }
        return thread
    }

    @Test("a job runs on the reading thread, named, and returns its value or throws its error")
    func jobsRunThere() throws {
        let thread = PrivateFileTableThread(name: "hvtax-test-rd")
        #expect(thread.tid != 0)
        let caller = ckvm_gettid()
        let ranOn = thread.run { ckvm_gettid() }
        #expect(ranOn == thread.tid && ranOn != caller)
        let name = try String(contentsOfFile: "/proc/\(getpid())/task/\(thread.tid)/comm", encoding: .utf8)
        #expect(name == "hvtax-test-rd\n")
        #expect(throws: Refused(code: 7)) {
            try thread.run { () throws(Refused) -> Int in throw Refused(code: 7) }
        }
        // A job that runs a job runs it in place rather than waiting on itself.
        #expect(thread.run { thread.run { ckvm_gettid() } } == thread.tid)
    }

    @Test("a descriptor opened in a job is in the reading thread's table and not in the process's")
    func descriptorsStayInTheThreadsTable() throws {
        guard let thread = Self.privateThread() else { return }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hvtax-private-fd-\(UUID().uuidString)").path
        try "counter 42\n".write(toFile: path, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = thread.run { open(path, O_RDONLY | O_CLOEXEC) }
        #expect(fd >= 0)
        #expect(Self.target(fd, tid: thread.tid) == path)
        #expect(Self.target(fd, tid: ckvm_gettid()) != path, "this thread's descriptor \(fd), if any, is another file")
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = thread.run { ckvm_pread(fd, &buffer, 64, 0) }
        #expect(String(decoding: buffer[0..<max(n, 0)], as: UTF8.self) == "counter 42\n")
        #expect(thread.run { close(fd) } == 0)
        #expect(Self.target(fd, tid: thread.tid) == nil)
    }

    @Test("the reading thread's table holds none of the process's files: a pipe whose writer closes reaches its end")
    func holdsNoOtherFiles() throws {
        var ends: [CInt] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        // Made after the pipe: a plain copy of the process's table would hold the write end open.
        guard let thread = Self.privateThread() else {
            close(ends[1])
            return
        }
        #expect(Self.target(ends[1], tid: thread.tid) == nil)
        close(ends[1])
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        var byte: UInt8 = 0
        #expect(read(ends[0], &byte, 1) == 0, "end of file, not EAGAIN: no writer is left anywhere")
        // stdin, stdout and stderr stay: what the thread prints goes where the process's output goes.
        for fd: CInt in [1, 2] { #expect(Self.target(fd, tid: thread.tid) == Self.target(fd, tid: ckvm_gettid())) }
    }

    @Test("a sampler reads in its own table and, when it goes, closes its files there and not the caller's")
    func samplerClosesInItsOwnTable() throws {
        let root = try OpenCounterFilesTests.copyOfFixture("live-libvirt-v2")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Descriptors of this thread numbered as the sampler's will be (both tables count from 3).
        let mine = (0..<40).map { _ in open("/dev/null", O_RDONLY | O_CLOEXEC) }
        defer { for fd in mine { close(fd) } }
        var readingThread: Int32 = 0
        do {
            let sampler = LiveSampler(fs: HostFileSystem(root: root), ticksPerSecond: 100)
            guard sampler.readsThroughPrivateFileTable else {
                print("skipped: the sampler reads through the process's descriptor table here (\(sampler.whyFileTableShared ?? "?"))")
                return
            }
            readingThread = sampler.readingThreadID
            _ = try sampler.sample()
            let steady = try sampler.sample()
            #expect(steady.cost.filesOpened == 0 && steady.threads.count > 0)
            let held = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(getpid())/task/\(readingThread)/fd")
                .compactMap { Self.target(CInt($0)!, tid: readingThread) }.filter { $0.hasPrefix(root) }
            #expect(held.count == sampler.openFileCount && held.count > 5)
            let here = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(getpid())/task/\(ckvm_gettid())/fd")
                .compactMap { Self.target(CInt($0)!, tid: ckvm_gettid()) }.filter { $0.hasPrefix(root) }
            #expect(here.isEmpty, "no counter file is in this thread's table")
        }
        // pthread_join returns once the thread has let go of its memory; its /proc entry goes a moment later.
        let task = "/proc/\(getpid())/task/\(readingThread)"
        for _ in 0..<1000 where FileManager.default.fileExists(atPath: task) { usleep(2_000) }
        #expect(!FileManager.default.fileExists(atPath: task), "the reading thread ended with its sampler")
        for fd in mine { #expect(Self.target(fd, tid: ckvm_gettid()) == "/dev/null", "descriptor \(fd) of this thread still open") }
    }
}
