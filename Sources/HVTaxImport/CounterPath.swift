/// A perfmon counter path, `\\HOST\Object(Instance)\Counter`, or `\Object(Instance)\Counter`
/// without the host (as some tools and tests write it).
public struct CounterPath: Sendable, Equatable {
    public var host: String?
    public var object: String
    public var instance: String?
    public var counter: String

    public init(host: String?, object: String, instance: String?, counter: String) {
        self.host = host
        self.object = object
        self.instance = instance
        self.counter = counter
    }

    /// Windows matches object and counter names case-insensitively; so does hvtax.
    public var objectKey: String { object.lowercased() }
    public var counterKey: String { counter.lowercased() }

    /// Parses a header cell. Instances may hold spaces, colons, parentheses and even backslashes
    /// (`web:prod (eu):Hv VP 1`), so the counter is what follows the last backslash and the
    /// instance runs from the object's first `(` to the last `)` before it.
    public static func parse(_ text: String) -> CounterPath? {
        var rest = Substring(text)
        var host: String?
        if rest.hasPrefix("\\\\") {
            rest = rest.dropFirst(2)
            guard let slash = rest.firstIndex(of: "\\") else { return nil }
            host = String(rest[..<slash])
            rest = rest[slash...]
        }
        guard rest.hasPrefix("\\") else { return nil }
        rest = rest.dropFirst()
        guard let lastSlash = rest.lastIndex(of: "\\") else { return nil }
        let counter = rest[rest.index(after: lastSlash)...]
        let middle = rest[..<lastSlash]
        guard !counter.isEmpty, !middle.isEmpty else { return nil }
        if let open = middle.firstIndex(of: "(") {
            guard middle.hasSuffix(")") else { return nil }
            let object = middle[..<open]
            let instance = middle[middle.index(after: open)..<middle.index(before: middle.endIndex)]
            guard !object.isEmpty else { return nil }
            return CounterPath(host: host, object: String(object), instance: String(instance), counter: String(counter))
        }
        return CounterPath(host: host, object: String(middle), instance: nil, counter: String(counter))
    }
}
