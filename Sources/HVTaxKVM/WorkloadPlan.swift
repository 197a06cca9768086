import HVTaxModel

/// What `hvtax workload` is asked to do: how many vCPUs, which duty cycles for how long, which
/// exits at which rates, and how often to write the truth.
public struct WorkloadPlan: Sendable, Equatable {
    /// The exit kinds the guest can generate at a chosen rate.
    public enum ExitKind: String, Sendable, CaseIterable {
        case io, mmio, cpuid
    }

    public var vcpus: Int
    public var periodNs: UInt64
    public var phases: [WorkloadPhase]
    /// Exits per second per vCPU, averaged over wall time (they happen during the busy part).
    public var exitRatesPerSecond: [ExitKind: Double]
    public var truthIntervalNs: UInt64
    /// The VM's name: `guest=NAME` in the command line, and in the truth.
    public var name: String
    /// Nice value for the vCPU threads (nil: inherit). A negative one (root only) lets the duty hold
    /// on a host busy with other work, which would otherwise take its fair share of the CPUs.
    public var vcpuNice: Int32?

    public init(vcpus: Int, periodNs: UInt64, phases: [WorkloadPhase], exitRatesPerSecond: [ExitKind: Double],
                truthIntervalNs: UInt64, name: String, vcpuNice: Int32? = nil) {
        self.vcpus = vcpus
        self.periodNs = periodNs
        self.phases = phases
        self.exitRatesPerSecond = exitRatesPerSecond
        self.truthIntervalNs = truthIntervalNs
        self.name = name
        self.vcpuNice = vcpuNice
    }

    /// Periods per truth interval (at least one).
    public var periodsPerInterval: Int { max(1, Int((truthIntervalNs + periodNs / 2) / periodNs)) }

    public var totalDurationNs: UInt64 { phases.reduce(0) { $0 + $1.durationNs } }

    /// Checks the combination, saying what to change.
    public func validate() throws(WorkloadPlanError) {
        guard (1...GuestLayout.maximumVCPUs).contains(vcpus) else {
            throw .invalid("--vcpus must be between 1 and \(GuestLayout.maximumVCPUs)")
        }
        guard periodNs >= 1_000_000 else { throw .invalid("--period must be at least 1ms") }
        guard !phases.isEmpty else { throw .invalid("the schedule is empty: give --duty/--duration or --schedule") }
        for phase in phases where phase.durationNs < periodNs {
            throw .invalid("a phase of \(phase.durationNs / 1_000_000)ms is shorter than the period; lengthen it")
        }
        if let vcpuNice, !(-20...19).contains(vcpuNice) { throw .invalid("--nice must be between -20 and 19") }
        for (kind, rate) in exitRatesPerSecond where rate < 0 || rate > 1_000_000 {
            throw .invalid("--exits \(kind.rawValue):\(rate)/s is out of range (0 to 1000000 per second)")
        }
    }
}

/// A workload argument that does not parse, with the form it should take.
public enum WorkloadPlanError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let message): message
        }
    }
}

/// Parsers for the workload's argument syntax.
public enum WorkloadSyntax {
    /// "75%", "75" (percent) or "0.75" (fraction) -> 0.75.
    public static func duty(_ text: String) throws(WorkloadPlanError) -> Double {
        let trimmed = text.trimmingWhitespace()
        let value: Double?
        if trimmed.hasSuffix("%") {
            value = Double(trimmed.dropLast()).map { $0 / 100 }
        } else if let number = Double(trimmed) {
            value = number > 1 ? number / 100 : number
        } else {
            value = nil
        }
        guard let value, value >= 0, value <= 1 else {
            throw .invalid("duty '\(text)' must be a percentage from 0% to 100% (e.g. 75%)")
        }
        return value
    }

    /// "100ms", "10s", "3m", "1h", "250us", "500000ns" -> nanoseconds. A bare number is seconds.
    public static func durationNs(_ text: String) throws(WorkloadPlanError) -> UInt64 {
        guard let nanoseconds = DurationText.nanoseconds(text) else {
            throw .invalid("duration '\(text)' must be \(DurationText.expected)")
        }
        return nanoseconds
    }

    /// "io:2000/s,mmio:500/s,cpuid:1000/s" -> rates per second ("/s" optional).
    public static func exitRates(_ text: String) throws(WorkloadPlanError) -> [WorkloadPlan.ExitKind: Double] {
        var rates: [WorkloadPlan.ExitKind: Double] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":", maxSplits: 1)
            let rateText = parts.count == 2 ? String(parts[1]).trimmingWhitespace() : ""
            let number = rateText.hasSuffix("/s") ? String(rateText.dropLast(2)) : rateText
            guard parts.count == 2,
                  let kind = WorkloadPlan.ExitKind(rawValue: String(parts[0]).trimmingWhitespace()),
                  let rate = Double(number), rate >= 0
            else {
                throw .invalid("exit rate '\(item)' must look like KIND:RATE/s with KIND one of "
                    + "\(WorkloadPlan.ExitKind.allCases.map(\.rawValue).joined(separator: ", ")) (e.g. io:2000/s)")
            }
            rates[kind] = rate
        }
        return rates
    }

    /// "75%:3m,90%:3m" -> phases.
    public static func schedule(_ text: String) throws(WorkloadPlanError) -> [WorkloadPhase] {
        var phases: [WorkloadPhase] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else {
                throw .invalid("schedule step '\(item)' must look like DUTY:DURATION (e.g. 75%:3m)")
            }
            phases.append(WorkloadPhase(duty: try duty(String(parts[0])), durationNs: try durationNs(String(parts[1]))))
        }
        return phases
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
