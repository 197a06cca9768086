/// `hvtax validate --experiment`: a load whose truth is known (`hvtax workload`'s truth file, or
/// a load the user describes for a VM they name), every accounting source sampled while it runs,
/// and how far each source is from the truth in each phase, the way the published validation study
/// did by hand. Shares are per vCPU and of wall time (a vCPU busy 75% of the time has 0.75), so a
/// source's error is in percentage points of one vCPU.
public struct AccountingExperiment: Codable, Sendable, Equatable {
    public static let schemaVersion = "hvtax.validate-experiment/1"

    public var schema: String = AccountingExperiment.schemaVersion
    public var vm: String
    public var pid: Int32
    public var vcpus: Int
    /// "hvtax workload truth file /tmp/x.jsonl" or "described by the user: 75%:3m,90%:3m".
    public var truthSource: String
    /// A source within this many percentage points of the truth in every phase is trustworthy.
    public var tolerancePoints: Double
    public var phases: [ExperimentPhase]
    /// One line per source over all phases.
    public var results: [ExperimentSourceResult]
    /// Exits per second by reason against the workload's own counts, when a counting source ran.
    public var exits: [ExperimentExitFigure]
    /// Where exit counts came from, or why there are none.
    public var exitSource: String
    /// The sources compared with each other over the whole run: the explanations for the errors.
    public var validation: AccountingValidation?

    public init(vm: String, pid: Int32, vcpus: Int, truthSource: String, tolerancePoints: Double, phases: [ExperimentPhase],
                results: [ExperimentSourceResult], exits: [ExperimentExitFigure], exitSource: String,
                validation: AccountingValidation?) {
        self.vm = vm
        self.pid = pid
        self.vcpus = vcpus
        self.truthSource = truthSource
        self.tolerancePoints = tolerancePoints
        self.phases = phases
        self.results = results
        self.exits = exits
        self.exitSource = exitSource
        self.validation = validation
    }
}

public struct ExperimentPhase: Codable, Sendable, Equatable {
    public var index: Int
    public var requestedDuty: Double
    /// The window sampled inside the phase, from the experiment's start (CLOCK_MONOTONIC ns).
    public var windowStartNs: UInt64
    public var windowNs: UInt64
    public var figures: [ExperimentFigure]

    public init(index: Int, requestedDuty: Double, windowStartNs: UInt64, windowNs: UInt64, figures: [ExperimentFigure]) {
        self.index = index
        self.requestedDuty = requestedDuty
        self.windowStartNs = windowStartNs
        self.windowNs = windowNs
        self.figures = figures
    }
}

/// One source in one phase: its share per vCPU, the truth's, and the error.
public struct ExperimentFigure: Codable, Sendable, Equatable {
    public var source: AccountingSource
    /// nil when the source is not available for this VM (no cgroup of its own, ...).
    public var measured: Double?
    public var truth: Double
    /// What the truth is: "on-CPU duty (vCPU threads' CLOCK_THREAD_CPUTIME_ID)", "guest share (guest TSC)", "described duty".
    public var truthKind: String
    /// (measured − truth) × 100.
    public var errorPoints: Double?
    public var withinTolerance: Bool?
    /// Why it is unavailable, or a remark on the figure.
    public var note: String?

    public init(source: AccountingSource, measured: Double?, truth: Double, truthKind: String, errorPoints: Double?,
                withinTolerance: Bool?, note: String?) {
        self.source = source
        self.measured = measured
        self.truth = truth
        self.truthKind = truthKind
        self.errorPoints = errorPoints
        self.withinTolerance = withinTolerance
        self.note = note
    }
}

public struct ExperimentSourceResult: Codable, Sendable, Equatable {
    public var source: AccountingSource
    public var worstErrorPoints: Double?
    public var verdict: SourceVerdict.Verdict
    /// Why: within tolerance in every phase, or the phase it missed and the cause from the validation.
    public var explanation: String

    public init(source: AccountingSource, worstErrorPoints: Double?, verdict: SourceVerdict.Verdict, explanation: String) {
        self.source = source
        self.worstErrorPoints = worstErrorPoints
        self.verdict = verdict
        self.explanation = explanation
    }
}

/// Exits of one reason over the whole sampled run: counted by hvtax's source vs the workload's truth.
public struct ExperimentExitFigure: Codable, Sendable, Equatable {
    /// The kvm tracepoint or reason counted ("kvm_pio", "kvm_userspace_exit").
    public var reason: String
    public var counted: UInt64
    public var truth: UInt64
    /// What the truth counts ("io exits counted by the workload at each KVM_RUN return").
    public var truthKind: String
    /// (counted − truth) / truth.
    public var relativeError: Double?
    /// The error the comparison allows: the truth comes in intervals of whole periods while the
    /// counters are read at sample times, and the exits bunch in the busy part of each period, so
    /// each end of the window may be off by up to one period's exits.
    public var allowedRelativeError: Double
    public var withinTolerance: Bool

    public init(reason: String, counted: UInt64, truth: UInt64, truthKind: String, allowedRelativeError: Double) {
        self.reason = reason
        self.counted = counted
        self.truth = truth
        self.truthKind = truthKind
        self.allowedRelativeError = allowedRelativeError
        let error = truth > 0 ? (Double(counted) - Double(truth)) / Double(truth) : nil
        relativeError = error
        withinTolerance = error.map { abs($0) <= allowedRelativeError } ?? (counted == 0)
    }
}
