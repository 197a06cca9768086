import Foundation

/// Where line protocol goes: the write endpoint URL as the user gives it, which names the API.
///
///     http://HOST:8086/api/v2/write?org=ORG&bucket=BUCKET   InfluxDB 2.x/3.x (and 1.8+'s v2 compatibility API),
///                                                          header `Authorization: Token TOKEN`
///     http://HOST:8086/write?db=DB                          InfluxDB 1.x; user:password@ in the URL for basic auth
///
/// Precision is set to nanoseconds (`precision=ns` on v2, `precision=n` on v1) unless the URL asks
/// for exactly that already; another precision is refused because hvtax writes nanoseconds.
public struct InfluxTarget: Sendable, Equatable {
    public enum API: String, Sendable { case v1, v2 }

    public var api: API
    public var writeURL: URL
    /// `Authorization` header value (`Token ...` for v2, `Basic ...` from the URL's user info for v1).
    public var authorization: String?
    /// The URL without credentials, for logs and errors.
    public var displayURL: String

    public init(url text: String, token: String? = nil) throws(InfluxTargetError) {
        guard var components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", components.host?.isEmpty == false else {
            throw InfluxTargetError("\(text): expected an http(s) URL of an InfluxDB write endpoint")
        }
        var items = components.queryItems ?? []
        func value(_ name: String) -> String? { items.first { $0.name == name }?.value.flatMap { $0.isEmpty ? nil : $0 } }
        let path = components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path
        let precision: String
        if path.hasSuffix("/api/v2/write") {
            api = .v2
            guard value("bucket") != nil, value("org") != nil || value("orgID") != nil else {
                throw InfluxTargetError("\(text): the v2 write API needs ?org=ORG&bucket=BUCKET (or orgID=)")
            }
            precision = "ns"
        } else if path.hasSuffix("/write") {
            api = .v1
            guard value("db") != nil else { throw InfluxTargetError("\(text): the v1 write API needs ?db=DATABASE") }
            precision = "n"
        } else {
            throw InfluxTargetError("\(text): expected the write endpoint, http://HOST:8086/api/v2/write?org=ORG&bucket=BUCKET (v2) "
                                    + "or http://HOST:8086/write?db=DB (v1)")
        }
        if let asked = value("precision") {
            guard asked == precision else {
                throw InfluxTargetError("\(text): precision=\(asked), but hvtax writes nanosecond timestamps (precision=\(precision))")
            }
        } else {
            items.append(URLQueryItem(name: "precision", value: precision))
        }
        components.queryItems = items
        if let token, !token.isEmpty {
            authorization = "Token " + token
        } else if let user = components.user {
            let credentials = user + ":" + (components.password ?? "")
            authorization = "Basic " + Data(credentials.utf8).base64EncodedString()
        } else {
            authorization = nil
        }
        if api == .v2, authorization == nil {
            // InfluxDB 2 always wants a token; 1.8's v2 compatibility API takes user:password as one.
            throw InfluxTargetError("\(text): the v2 write API needs a token (--influx-token-file FILE or HVTAX_INFLUX_TOKEN)")
        }
        components.user = nil
        components.password = nil
        guard let url = components.url else { throw InfluxTargetError("\(text): cannot be written back as a URL") }
        writeURL = url
        displayURL = url.absoluteString
    }
}

public struct InfluxTargetError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
