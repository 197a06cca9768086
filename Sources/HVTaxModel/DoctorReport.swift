/// What `hvtax doctor` found on a host: one verdict per check of what capture and measurement need.
///
/// The JSON form is this type encoded as is; `schema` names its version so that consumers can
/// refuse a document they do not understand. Adding a check or an optional field keeps the
/// version; renaming, removing or changing the meaning of a field bumps it.
public struct DoctorReport: Codable, Sendable, Equatable {
    /// The schema of this document; see `docs/doctor.md`.
    public static let schemaID = "hvtax.doctor/1"

    public var schema: String
    public var host: DoctorHost
    public var checks: [DoctorCheck]
    public var summary: DoctorSummary

    public init(host: DoctorHost, checks: [DoctorCheck]) {
        self.schema = Self.schemaID
        self.host = host
        self.checks = checks
        self.summary = DoctorSummary(checks)
    }

    public func check(_ id: DoctorCheckID) -> DoctorCheck? {
        checks.first { $0.id == id }
    }

    /// Only a failed check makes the command fail: a warning is something to know, not a reason
    /// to stop a script that runs doctor before a capture.
    public var exitCode: Int32 { summary.fail > 0 ? 1 : 0 }
}

/// Where the checks ran, so a saved report says which machine and kernel it describes.
public struct DoctorHost: Codable, Sendable, Equatable {
    public var hostname: String?
    public var kernelRelease: String?
    public var cpus: Int?
    /// The directory host files were read under: "/" for the live host, else a fixture or image.
    public var root: String
    /// The effective user the checks ran as; permissions verdicts depend on it.
    public var user: String

    public init(hostname: String?, kernelRelease: String?, cpus: Int?, root: String, user: String) {
        self.hostname = hostname
        self.kernelRelease = kernelRelease
        self.cpus = cpus
        self.root = root
        self.user = user
    }
}

public enum DoctorStatus: String, Codable, Sendable, CaseIterable, Comparable {
    /// What hvtax needs is there and works.
    case pass
    /// Works, but some figure will be missing, coarser or different from a bare-metal VT-x/AMD-V host.
    case warn
    /// Something a capture needs is missing or broken.
    case fail
    /// A fact worth knowing that is neither good nor bad (e.g. no isolated CPUs).
    case info

    private var severity: Int {
        switch self {
        case .pass: 0
        case .info: 1
        case .warn: 2
        case .fail: 3
        }
    }

    public static func < (lhs: DoctorStatus, rhs: DoctorStatus) -> Bool { lhs.severity < rhs.severity }
}

/// A stable, dotted identifier (`kvm.device`) that scripts can match on. A string type rather than
/// an enum so a newer hvtax can add checks without breaking older readers of the JSON.
public struct DoctorCheckID: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }
}

extension DoctorCheckID {
    public static let virtualization: DoctorCheckID = "cpu.virtualization"
    public static let kvmModules: DoctorCheckID = "kvm.modules"
    public static let kvmDevice: DoctorCheckID = "kvm.device"
    public static let tracefs: DoctorCheckID = "tracefs"
    public static let tracepoints: DoctorCheckID = "tracefs.events"
    public static let tracefsInstances: DoctorCheckID = "tracefs.instances"
    public static let debugfs: DoctorCheckID = "debugfs"
    public static let perf: DoctorCheckID = "perf"
    public static let schedInfo: DoctorCheckID = "sched.info"
    public static let schedStats: DoctorCheckID = "sched.schedstats"
    public static let cpuIsolation: DoctorCheckID = "cpu.isolation"
    public static let irqbalance: DoctorCheckID = "irqbalance"
    public static let hugepages: DoctorCheckID = "memory.hugepages"
    public static let cgroups: DoctorCheckID = "cgroup"
    public static let steal: DoctorCheckID = "host.steal"
    public static let throttling: DoctorCheckID = "cpu.throttling"
}

public struct DoctorCheck: Codable, Sendable, Equatable, Identifiable {
    public var id: DoctorCheckID
    /// A short human name for the first column of the text output.
    public var title: String
    public var status: DoctorStatus
    /// One line: what was found, with the figures that support it.
    public var detail: String
    /// One line: what to do about it; absent when there is nothing to do.
    public var remedy: String?
    /// The host files and probes the verdict rests on, so a surprising line can be checked by hand.
    public var sources: [String]

    public init(
        id: DoctorCheckID, title: String, status: DoctorStatus, detail: String, remedy: String? = nil,
        sources: [String] = []
    ) {
        self.id = id
        self.title = title
        self.status = status
        self.detail = detail
        self.remedy = remedy
        self.sources = sources
    }
}

public struct DoctorSummary: Codable, Sendable, Equatable {
    public var pass: Int
    public var warn: Int
    public var fail: Int
    public var info: Int

    public init(_ checks: [DoctorCheck]) {
        func count(_ status: DoctorStatus) -> Int { checks.lazy.filter { $0.status == status }.count }
        self.pass = count(.pass)
        self.warn = count(.warn)
        self.fail = count(.fail)
        self.info = count(.info)
    }
}
