import Foundation
import HVTaxModel

/// hvtax's own JSON documents read back (reports and snapshots for compare and snmp-pass, the
/// workload's truth for validate), with errors that say where. JSONDecoder reports every syntax
/// error as "The given data was not valid JSON.", so the bytes then go to JSONSerialization,
/// which names the byte it stopped at; a field's problem names the field's path.
public enum JSONInput {
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(JSONInputError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw JSONInputError(problem: problem(error, in: data))
        }
    }

    /// JSON Lines: one document a line, blank lines skipped; an error names its line (counted from 1,
    /// blank lines included) and, for a syntax error, the column.
    public static func decodeLines<T: Decodable>(_ type: T.Type, from data: Data) throws(JSONInputError) -> [T] {
        let decoder = JSONDecoder()
        var out: [T] = []
        for (index, line) in data.split(separator: 0x0a, omittingEmptySubsequences: false).enumerated()
            where line.contains(where: { ![0x20, 0x09, 0x0d].contains($0) }) {
            let bytes = Data(line)
            do {
                out.append(try decoder.decode(type, from: bytes))
            } catch {
                if let syntax = syntaxProblem(error, in: bytes) {
                    throw JSONInputError(problem: "line \(index + 1)" + (syntax.column.map { ", column \($0)" } ?? "") + ": \(syntax.message)")
                }
                throw JSONInputError(problem: "line \(index + 1): " + problem(error, in: bytes))
            }
        }
        return out
    }

    /// `vms[0].exits: Expected to decode UInt64 but found ...`, or
    /// `byte 14 (line 2, column 2): Invalid value around character 14.`
    public static func problem(_ error: any Error, in data: Data) -> String {
        if let syntax = syntaxProblem(error, in: data) {
            guard let offset = syntax.offset, let line = syntax.line, let column = syntax.column else { return syntax.message }
            return "byte \(offset) (line \(line), column \(column)): \(syntax.message)"
        }
        guard let error = error as? DecodingError else { return "\(error)" }
        return DecodingProblem.describe(error)
    }

    struct SyntaxProblem {
        /// Bytes from the start, lines and columns from 1; nil when the syntax is right but a value is not.
        var offset: Int?, line: Int?, column: Int?
        var message: String
    }

    /// Where the JSON syntax breaks, when `error` is JSONDecoder's word for that and JSONSerialization
    /// can say where; nil when the problem is a field's (the error then names the field).
    static func syntaxProblem(_ error: any Error, in data: Data) -> SyntaxProblem? {
        guard case .dataCorrupted(let context)? = error as? DecodingError, context.codingPath.isEmpty else { return nil }
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            // Valid JSON that JSONDecoder still calls "not valid JSON": it says so, without a path,
            // for a number its field's type cannot hold (-3 or 1.5 for a UInt64).
            return SyntaxProblem(offset: nil, line: nil, column: nil, message: "a number that does not fit its field: negative or "
                                 + "fractional where a whole number belongs, or too large (the decoder does not say which field)")
        } catch {
            let message = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            // "Invalid value around character 14.": the character is the byte offset from 0.
            let offset: Int
            if let range = message.range(of: "character "), let at = Int(message[range.upperBound...].prefix { $0.isNumber }),
               at <= data.count {
                offset = at
            } else if message.contains("end of file") {
                offset = data.count
            } else {
                return nil
            }
            let bytes = [UInt8](data.prefix(offset))
            let lineStart = (bytes.lastIndex(of: 0x0a) ?? -1) + 1
            return SyntaxProblem(offset: offset, line: bytes.count { $0 == 0x0a } + 1, column: offset - lineStart + 1, message: message)
        }
    }
}

public struct JSONInputError: Error, CustomStringConvertible {
    public var problem: String
    public var description: String { problem }
}
