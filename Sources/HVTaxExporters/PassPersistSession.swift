import Foundation

/// net-snmp's `pass_persist` protocol (snmpd.conf(5)): snmpd writes a command line and an OID
/// line, the handler answers on stdout. No I/O here: the command feeds lines in and writes the
/// answer out, and tests drive it directly.
///
///     PING                  -> PONG
///     get / OID             -> OID / TYPE / VALUE, or NONE
///     getnext / OID         -> the next OID / TYPE / VALUE, or NONE
///     set / OID / TYPE VAL  -> not-writable
public struct PassPersistSession: Sendable {
    enum Pending: Sendable { case get, getnext, set, setValue }
    private var pending: Pending?
    public let base: OID

    public init(base: OID = SNMPSubtree.defaultBase) { self.base = base }

    /// The answer to one input line, or nil while a command still waits for its OID line.
    /// `subtree` is asked for only when a get or getnext needs it.
    public mutating func answer(_ line: String, subtree: () -> SNMPSubtree) -> String? {
        let text = line.trimmingCharacters(in: [" ", "\t", "\r"])
        if let command = pending {
            pending = nil
            switch command {
            case .set:
                pending = .setValue
                return nil
            case .setValue:
                return "not-writable\n"
            case .get, .getnext:
                guard let oid = OID(text) else { return "NONE\n" }
                let tree = subtree()
                if command == .get {
                    guard oid.hasPrefix(base), let value = tree.get(oid) else { return "NONE\n" }
                    return Self.format(oid, value)
                }
                guard let next = tree.next(after: oid), next.oid.hasPrefix(base) else { return "NONE\n" }
                return Self.format(next.oid, next.value)
            }
        }
        switch text.lowercased() {
        case "ping": return "PONG\n"
        case "get": pending = .get
        case "getnext": pending = .getnext
        case "set": pending = .set
        case "": return nil
        default: return "NONE\n"
        }
        return nil
    }

    static func format(_ oid: OID, _ value: SNMPValue) -> String {
        "\(oid)\n\(value.typeWord)\n\(value.valueText)\n"
    }
}
