import Foundation
import Hummingbird
import HummingbirdBcrypt
import Synchronization

/// HTTP basic auth against bcrypt hashes, as exporter-toolkit's `basic_auth_users`. bcrypt is
/// slow on purpose (tens of ms at cost 10), so a password that verified once is remembered per
/// user (with the hash it matched) and later requests compare it directly; a wrong password costs
/// a full bcrypt every time.
struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let users: [String: String]
    private let verified = VerifiedPasswords()

    init(users: [String: String]) {
        self.users = users
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return Self.unauthorized }
        let user = String(text[..<colon])
        let password = String(text[text.index(after: colon)...])
        guard let hash = users[user] else {
            // Same work as a known user, so timing does not tell which users exist.
            _ = Bcrypt.verify(password, hash: VerifiedPasswords.dummyHash)
            return Self.unauthorized
        }
        let remembered = verified.entries.withLock { $0[user] }
        if let remembered, remembered.hash == hash, Self.equal(remembered.password, password) {
            return try await next(request, context)
        }
        guard Bcrypt.verify(password, hash: hash) else { return Self.unauthorized }
        verified.entries.withLock { $0[user] = (hash, password) }
        return try await next(request, context)
    }

    static var unauthorized: Response {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Basic realm=\"hvtax\", charset=\"UTF-8\""
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "Unauthorized\n")))
    }

    /// Length-independent comparison time, as far as Swift strings allow.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return difference == 0
    }
}

/// Passwords that verified, by user, with the hash they matched (a changed config drops them).
final class VerifiedPasswords: Sendable {
    let entries = Mutex<[String: (hash: String, password: String)]>([:])

    /// A bcrypt hash of nothing anyone will send, cost 10.
    static let dummyHash = "$2b$10$3euPcmQFCiblsZeEu5s7p.9OVHgeHWFDk9nhMqZ0m/3pd/lhwZgES"
}

/// The exporter is read-only: anything but GET and HEAD is refused before routing.
struct ReadOnlyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            var headers = HTTPFields()
            headers[.allow] = "GET, HEAD"
            return Response(status: .methodNotAllowed, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "hvtax serve is read-only: GET or HEAD\n")))
        }
        guard request.method == .head else { return try await next(request, context) }
        // HEAD: the GET's status and headers without its body.
        var head = request.head
        head.method = .get
        let response = try await next(Request(head: head, body: request.body), context)
        var headers = response.headers
        if let length = response.body.contentLength { headers[.contentLength] = String(length) }
        return Response(status: response.status, headers: headers, body: .init())
    }
}
