import AsyncHTTPClient
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP POST (an InfluxDB write, a threshold webhook) through AsyncHTTPClient.
///
/// Not URLSession: on Linux it lives in FoundationNetworking, which links libcurl and with it some
/// thirty libraries (TLS, Kerberos, LDAP) into every hvtax process. Loading them cost ~10 ms at the
/// start of every command, a fifth of `hvtax report` on a small trace, for two POSTs that only
/// `hvtax serve` and the `--influx` options make. AsyncHTTPClient is already linked (the OTLP
/// exporter uses it) and runs on the same SwiftNIO event loops as the server.
public enum HTTPPost {
    /// What the server answered: its status, and the start of its body (for error messages).
    public struct Answer: Sendable {
        public var status: Int
        public var body: String
        public var succeeded: Bool { (200..<300).contains(status) }
    }

    /// Why a POST got no answer at all (refused, timed out, TLS refused, bad URL).
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Sends `body` to `url` and waits for the whole answer, or `timeoutSeconds` at most.
    /// - Parameter kept: how much of the answer's body to keep; the rest is read and dropped.
    public static func send(_ body: [UInt8], to url: String, headers: [(name: String, value: String)],
                            timeoutSeconds: Double, kept: Int = 2000) async throws(Failure) -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeoutSeconds * 1000)))
            var start: [UInt8] = []
            for try await chunk in response.body where start.count < kept {
                start += chunk.readableBytesView.prefix(kept - start.count)
            }
            return Answer(status: Int(response.status.code), body: String(decoding: start, as: UTF8.self))
        } catch {
            throw Failure(description: describe(error, timeoutSeconds: timeoutSeconds))
        }
    }

    /// AsyncHTTPClient's shared settings, but a connection that cannot be made fails the POST at
    /// once: by default the client retries with backoff until the timeout, so a stopped InfluxDB
    /// held each write for its whole timeout (10 s) where "Connection refused" is the answer.
    /// Never shut down: it lives as long as the process, like `HTTPClient.shared`.
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration,
                          backgroundActivityLogger: Logger(label: "hvtax.http-post", factory: { _ in SwiftLogNoOpLogHandler() }))
    }()

    /// The error in a user's words: the system's text for a socket error (NIO's own reads
    /// "connection reset (error set): Connection refused) (errno: 111)"), a plain sentence for a
    /// timeout, the library's description otherwise.
    static func describe(_ error: any Error, timeoutSeconds: Double) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if let client = error as? HTTPClientError {
            switch client {
            case .connectTimeout, .tlsHandshakeTimeout: return "no connection within \(timeoutSeconds) s"
            case .deadlineExceeded, .readTimeout, .writeTimeout: return "no answer within \(timeoutSeconds) s"
            case .remoteConnectionClosed: return "the server closed the connection before answering"
            default: break
            }
        }
        return "\(error)"
    }
}
