/// One field of a tracepoint, as its `format` file describes it. Field layouts change between
/// kernels (kvm_exit gained `isa`, `vcpu_id`, `requests`...), so every offset comes from here.
public struct EventField: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A number or a fixed array (`char prev_comm[16]`) stored in place.
        case inline
        /// `__data_loc`: a 32-bit word in place, low 16 bits the offset from the record start, high
        /// 16 bits the length.
        case dataLoc
        /// `__rel_loc`: like `__data_loc`, but the offset counts from the end of this field.
        case relLoc
    }

    public var name: String
    public var type: String
    public var offset: Int
    public var size: Int
    public var isSigned: Bool
    public var kind: Kind
    /// `[N]` in the declaration: a fixed array (`char comm[16]`), read as bytes, not as a number.
    public var isArray: Bool
}

/// A parsed tracepoint format file (`events/<system>/<name>/format`), also used for `header_page`.
public struct EventFormat: Sendable, Equatable {
    public var system: String
    public var name: String
    public var id: Int
    public var fields: [EventField]
    public var printFormat: String

    public func field(_ name: String) -> EventField? { fields.first { $0.name == name } }

    /// Parses the text of a format file. Lines it does not know are ignored, as the kernel adds
    /// lines over time; a `field:` line it cannot read is an error with its line number.
    public static func parse(_ text: Substring, system: String) -> Result<EventFormat, FormatParseError> {
        var format = EventFormat(system: system, name: "", id: -1, fields: [], printFormat: "")
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("name:") {
                format.name = String(line.dropFirst(5).trimmingBlanks())
            } else if line.hasPrefix("ID:") {
                guard let id = Int(line.dropFirst(3).trimmingBlanks()), id >= 0, id <= 0xffff else {
                    return .failure(.init(line: lineNumber, problem: "an ID that is not a number 0...65535"))
                }
                format.id = id
            } else if line.hasPrefix("field:") || line.hasPrefix("field :") {
                switch parseField(line) {
                case .success(let field): format.fields.append(field)
                case .failure(let problem): return .failure(.init(line: lineNumber, problem: problem.problem))
                }
            } else if line.hasPrefix("print fmt:") {
                format.printFormat = String(line.dropFirst(10).trimmingBlanks())
            }
        }
        return .success(format)
    }

    /// `field:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;`
    static func parseField(_ line: Substring) -> Result<EventField, FormatParseError> {
        let parts = line.split(separator: ";").map { $0.trimmingBlanks() }
        guard let first = parts.first, let colon = first.firstIndex(of: ":") else {
            return .failure(.init(line: 0, problem: "a field line without a declaration"))
        }
        var declaration = first[first.index(after: colon)...].trimmingBlanks()
        var offset: Int?
        var size: Int?
        var isSigned = false
        for part in parts.dropFirst() {
            if part.hasPrefix("offset:") { offset = Int(part.dropFirst(7)) }
            else if part.hasPrefix("size:") { size = Int(part.dropFirst(5)) }
            else if part.hasPrefix("signed:") { isSigned = part.dropFirst(7) == "1" }
        }
        guard let offset, let size, offset >= 0, size >= 0, offset <= 0xffff, size <= 0xffff else {
            return .failure(.init(line: 0, problem: "field '\(declaration)' without a valid offset and size"))
        }
        var isArray = false
        if declaration.hasSuffix("]"), let open = declaration.lastIndex(of: "[") {
            isArray = true
            declaration = declaration[..<open].trimmingBlanks()
        }
        guard let nameStart = declaration.lastIndex(where: { $0 == " " || $0 == "\t" || $0 == "*" }) else {
            return .failure(.init(line: 0, problem: "field '\(declaration)' has no type"))
        }
        let name = String(declaration[declaration.index(after: nameStart)...])
        let type = String(declaration[...nameStart].trimmingBlanks())
        let kind: EventField.Kind = type.hasPrefix("__data_loc") ? .dataLoc : type.hasPrefix("__rel_loc") ? .relLoc : .inline
        return .success(EventField(name: name, type: type, offset: offset, size: size, isSigned: isSigned,
                                   kind: kind, isArray: isArray))
    }
}

public struct FormatParseError: Error, Sendable, Equatable {
    public var line: Int
    public var problem: String
}

extension Substring {
    func trimmingBlanks() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" || first == "\n" || first == "\r" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" || last == "\n" || last == "\r" { result.removeLast() }
        return result
    }
}
