import Foundation

/// A one-thread HTTP/1.1 endpoint on a loopback port that stores each request (head and body)
/// and answers 204: the webhook's peer.
final class WebhookReceiver: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 8) == 0 else { throw TestFailure("webhook receiver: bind/listen failed") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in serve() }.start()
    }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            var data = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65536)
            // Read the head, then Content-Length bytes of body.
            while true {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                data += buffer[0..<n]
                let text = String(decoding: data, as: UTF8.self)
                if let end = text.range(of: "\r\n\r\n") {
                    let head = text[..<end.lowerBound].lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { break }
                }
            }
            lock.withLock { received.append(String(decoding: data, as: UTF8.self)) }
            let response = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
            _ = response.withCString { write(client, $0, strlen($0)) }
            close(client)
        }
    }

    var requests: [String] { lock.withLock { received } }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
