import Foundation
import HVTaxModel
import HVTaxRender
import Testing

/// hvtax's JSON documents read back: a syntax error names its byte, line and column (JSONDecoder
/// alone says only "not valid JSON"), a field's problem names the field's path, and JSON Lines
/// name the line. Offsets are worked out from the text itself.
@Suite("JSON input")
struct JSONInputTests {
    struct Document: Decodable {
        struct Entry: Decodable { var value: UInt64 }
        var entries: [Entry]
    }

    @Test("a syntax error: byte, line and column")
    func syntax() throws {
        let text = "{\n  \"entries\": [\n    {\"value\": x}]}"
        let offset = text.utf8.distance(from: text.utf8.startIndex, to: try #require(text.utf8.firstIndex(of: UInt8(ascii: "x"))))
        #expect(throws: JSONInputError.self) { try JSONInput.decode(Document.self, from: Data(text.utf8)) }
        do {
            _ = try JSONInput.decode(Document.self, from: Data(text.utf8))
        } catch {
            #expect(error.problem.hasPrefix("byte \(offset) (line 3, column 15): "), "\(error.problem)")
        }
    }

    @Test("a document cut short: the end")
    func truncated() {
        let text = "{\"entries\": [{\"value\": 1}, "
        do {
            _ = try JSONInput.decode(Document.self, from: Data(text.utf8))
            Issue.record("decoded a truncated document")
        } catch {
            #expect(error.problem.hasPrefix("byte \(text.utf8.count) (line 1, column \(text.utf8.count + 1)): "), "\(error.problem)")
        }
    }

    @Test("a field of the wrong type or missing: its path")
    func fields() {
        for (text, expected) in [("{\"entries\": [{\"value\": 1}, {\"value\": \"3\"}]}", "entries[1].value: Expected to decode UInt64"),
                                 // JSONDecoder gives no path for a number its type cannot hold.
                                 ("{\"entries\": [{\"value\": 1}, {\"value\": -3}]}", "a number that does not fit its field"),
                                 ("{\"entries\": [{\"value\": 1}, {}]}", "entries[1]: missing key value"),
                                 ("{}", "missing key entries")] {
            do {
                _ = try JSONInput.decode(Document.self, from: Data(text.utf8))
                Issue.record("decoded \(text)")
            } catch {
                #expect(error.problem.hasPrefix(expected), "\(error.problem)")
            }
        }
    }

    @Test("JSON Lines: the line, counting blank ones, and the column")
    func lines() throws {
        let good = "{\"entries\": []}"
        let values = try JSONInput.decodeLines(Document.self, from: Data("\(good)\n\n\(good)\n".utf8))
        #expect(values.count == 2)
        do {
            _ = try JSONInput.decodeLines(Document.self, from: Data("\(good)\n\n{\"entries\": [}\n".utf8))
            Issue.record("decoded a broken line")
        } catch {
            #expect(error.problem.hasPrefix("line 3, column 14: "), "\(error.problem)")
        }
        do {
            _ = try JSONInput.decodeLines(Document.self, from: Data("\(good)\n{\"entries\": [{}]}".utf8))
            Issue.record("decoded a line without its field")
        } catch {
            #expect(error.problem == "line 2: entries[0]: missing key value")
        }
    }
}
