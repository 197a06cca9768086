import ArgumentParser
import Foundation
import HVTaxTracefs
import HVTaxHost
import HVTaxModel
import HVTaxRender

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `hvtax doctor`: wires the host checks to a renderer and turns a failed check into the exit status.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check what capturing and measuring the hypervisor tax needs on this host.",
        discussion: """
            Each check prints PASS, WARN, FAIL or INFO with what was found and a one-line remedy: \
            the KVM backend (VT-x, AMD-V or paravirtual), KVM modules, /dev/kvm, tracefs and the \
            tracepoints hvtax uses, leftover tracefs instances, debugfs, perf, schedstat and \
            CONFIG_SCHEDSTATS, isolcpus/nohz_full, irqbalance, huge pages, cgroups, and steal.

            --fix first removes tracefs instances left by killed hvtax runs (the recorder does the \
            same at every start), then checks.

            Exit status: 0 when no check failed (warnings allowed), 1 when at least one check \
            failed, 64 on a usage error.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, always, never
    }

    @Option(help: "Output format: text or json (schema hvtax.doctor/1, see docs/doctor.md).")
    var format: Format = .text

    @Option(help: "Colour in text output: auto (only on a terminal, unless NO_COLOR is set), always or never.")
    var color: ColorChoice = .auto

    @Option(
        help: ArgumentHelp(
            "Read procfs, sysfs, tracefs, /etc and /boot under this directory instead of / (a fixture or a mounted image).",
            discussion: "/dev/kvm is then only inspected, not opened, and tools found there are not run."))
    var root: String = "/"

    @Flag(help: "First remove tracefs instances left by killed hvtax runs (their process is gone), then check.")
    var fix = false

    func run() throws {
        if fix {
            guard root == "/" else { throw ValidationError("--fix changes the live host only; it cannot be combined with --root") }
            // The recorder's own rule: an hvtax instance whose pid no longer exists. Say what went,
            // on stderr so that --format json stays one document.
            for removed in try TracefsInstance.cleanStale(in: Tracefs.locate(mountIfAbsent: false)) {
                FileHandle.standardError.write(Data("hvtax doctor --fix: removed \(removed.path) (pid \(removed.pid) is gone)\n".utf8))
            }
        }
        let report = Doctor(host: .live(root: root)).run()
        switch format {
        case .text:
            print(DoctorTextRenderer(style: TerminalStyle(colour: useColour)).render(report), terminator: "")
        case .json:
            print(try DoctorJSONRenderer().render(report), terminator: "")
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// The same rule as `hvtax report`'s --color: auto means a terminal and no NO_COLOR.
    private var useColour: Bool {
        switch color {
        case .always: true
        case .never: false
        case .auto: isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
        }
    }
}
