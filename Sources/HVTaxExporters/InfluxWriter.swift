import Foundation

/// Posts line protocol to an InfluxDB write endpoint. InfluxDB answers 204 No Content when every
/// point was written; anything else is an error carrying its status and the server's message
/// (e.g. `{"code":"unauthorized",...}` or `{"error":"database not found: \"x\""}`).
public struct InfluxWriter: Sendable {
    public let target: InfluxTarget
    public var timeout: TimeInterval

    public init(target: InfluxTarget, timeout: TimeInterval = 10) {
        self.target = target
        self.timeout = timeout
    }

    public func write(_ body: String) async throws(InfluxWriteError) {
        guard !body.isEmpty else { return }
        var headers: [(name: String, value: String)] = [("Content-Type", "text/plain; charset=utf-8"), ("Accept", "application/json")]
        if let authorization = target.authorization { headers.append(("Authorization", authorization)) }
        let answer: HTTPPost.Answer
        do {
            answer = try await HTTPPost.send(Array(body.utf8), to: target.writeURL.absoluteString, headers: headers, timeoutSeconds: timeout)
        } catch {
            throw InfluxWriteError(url: target.displayURL, status: nil, message: error.description)
        }
        guard answer.succeeded else {
            throw InfluxWriteError(url: target.displayURL, status: answer.status, message: answer.body)
        }
    }
}

public struct InfluxWriteError: Error, CustomStringConvertible {
    public var url: String
    public var status: Int?
    public var message: String

    public var description: String {
        "writing to \(url): " + (status.map { "HTTP \($0): " } ?? "") + message.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
