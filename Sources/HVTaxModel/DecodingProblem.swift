/// Why a document (JSON or YAML) did not decode, in words that point into it: the field's path as
/// `vms[0].vcpus[1].exits` and what was expected there. The advice rules, the serve config and
/// every JSON document hvtax reads back describe their errors through this one function.
public enum DecodingProblem {
    public static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return place(context) + context.debugDescription
        case .keyNotFound(let key, let context):
            return place(context) + "missing key \(key.stringValue)"
        @unknown default:
            return "\(error)"
        }
    }

    /// `vms[0].vcpus[1].exits: `, or nothing for the document itself.
    static func place(_ context: DecodingError.Context) -> String {
        var path = ""
        for key in context.codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += (path.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return path.isEmpty ? "" : path + ": "
    }
}
