import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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
        var request = URLRequest(url: target.writeURL, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("text/plain; charset=utf-8", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let authorization = target.authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        request.httpBody = Data(body.utf8)
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw InfluxWriteError(url: target.displayURL, status: nil, message: error.localizedDescription)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw InfluxWriteError(url: target.displayURL, status: status, message: String(decoding: data.prefix(2000), as: UTF8.self))
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
