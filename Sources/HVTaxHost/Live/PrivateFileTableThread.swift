import CKVM
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A thread with a file descriptor table of its own, on which the live sampler opens, reads and
/// closes its counter files; callers hand it work and wait (`run`).
///
/// Why a thread: every `pread` first finds its descriptor in the calling thread's table. While that
/// table is shared (any process with a second thread: Swift concurrency's pool, Hummingbird's event
/// loops), the kernel pins the file for the call and unpins it after (`__fget_light` takes its slow
/// path: an RCU section and two atomic updates of the file's count); a table used by one thread alone
/// takes the fast path. At ~2,800 reads a sample that was 4-6% of the read time on this machine
/// (docs/live.md, session 27).
///
/// The table is made with `close_range(3, ~0U, CLOSE_RANGE_UNSHARE)`: the thread's copy keeps stdin,
/// stdout and stderr and nothing else, so it never holds another thread's socket or pipe open (a
/// copied write end would keep a pipe from ever reaching end of file). Where the kernel refuses
/// (before 5.9, or a seccomp filter), the thread shares the process's table and works as before,
/// only without the saving: `isPrivate` and `whyShared` say so.
///
/// Descriptors opened in a job live in this thread's table only: they must be read and closed in a
/// job too. Elsewhere their numbers mean other files, or none.
final class PrivateFileTableThread: @unchecked Sendable {
    // @unchecked: the mailbox's job is written by a caller before `work.signal()` and taken by the
    // thread after `work.wait()`, and the result is read after `done.wait()`; the semaphores order
    // every access, and one caller at a time (the sampler is not Sendable).
    private final class Mailbox: @unchecked Sendable {
        let name: String
        let work = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        /// The next job; nil when `work` is signalled: end the thread.
        var job: (() -> Void)?
        var tid: Int32 = 0
        var unshareErrno: Int32 = 0

        init(name: String) { self.name = name }

        /// Runs the pending job, if any, and lets go of it before returning: the caller's
        /// `withoutActuallyEscaping` checks that nothing still holds the closure once `done` is
        /// signalled. Returns false when asked to end.
        func runPending() -> Bool {
            guard let job else { return false }
            self.job = nil
            job()
            return true
        }
    }

    /// Why the thread shares the process's table; nil when it has one of its own.
    let whyShared: String?
    var isPrivate: Bool { whyShared == nil }
    /// Its kernel task id (/proc/PID/task/TID), 0 when no thread could be started.
    let tid: Int32
    private let mailbox: Mailbox
    private let thread: pthread_t?

    /// Starts the thread, named `name` (shown by top -H and /proc/.../comm, at most 15 bytes).
    init(name: String) {
        let mailbox = Mailbox(name: name)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(mailbox).toOpaque()
        let created = pthread_create(&thread, nil, { raw in
            let mailbox = Unmanaged<Mailbox>.fromOpaque(raw!).takeRetainedValue()
            // Signals are for the process's other threads: none interrupts a read here, and a
            // handler never runs on a thread whose descriptors are not the process's.
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            _ = ckvm_set_current_thread_name(mailbox.name)
            mailbox.tid = ckvm_gettid()
            mailbox.unshareErrno = ckvm_unshare_fd_table(3) == 0 ? 0 : errno
            mailbox.done.signal()
            while true {
                mailbox.work.wait()
                guard mailbox.runPending() else { break }
                mailbox.done.signal()
            }
            // Ending the thread drops its table, closing whatever is still open in it.
            return nil
        }, context)
        self.mailbox = mailbox
        if created != 0 {
            Unmanaged<Mailbox>.fromOpaque(context).release()
            self.thread = nil
            tid = 0
            whyShared = "no thread of its own (pthread_create: \(String(cString: strerror(created))))"
            return
        }
        mailbox.done.wait()
        self.thread = thread
        tid = mailbox.tid
        whyShared = mailbox.unshareErrno == 0 ? nil : "close_range(CLOSE_RANGE_UNSHARE): \(String(cString: strerror(mailbox.unshareErrno)))"
    }

    deinit {
        guard let thread else { return }
        mailbox.job = nil
        mailbox.work.signal()
        if pthread_equal(pthread_self(), thread) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }

    /// Runs `body` on the thread and returns what it returned, or throws what it threw. Runs it
    /// in place when called from the thread itself, or when no thread could be started.
    func run<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        guard let thread, pthread_equal(pthread_self(), thread) == 0 else { return try body() }
        var result: Result<T, E>?
        withoutActuallyEscaping({ result = Result { () throws(E) -> T in try body() } }) { job in
            mailbox.job = job
            mailbox.work.signal()
            mailbox.done.wait()
        }
        return try result!.get()
    }
}
