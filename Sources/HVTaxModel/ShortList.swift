/// A list in a message that stays readable however long the real one is: at most ten items, then
/// how many more.
public enum ShortList {
    public static func text(_ items: [String], limit: Int = 10) -> String {
        let shown = items.prefix(limit).joined(separator: ", ")
        return items.count > limit ? shown + " and \(items.count - limit) more" : shown
    }
}
