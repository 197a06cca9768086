/// A runtime failure (KVM refused, an input file is damaged), not a usage mistake: ArgumentParser
/// prints "Error: <description>" without the usage text and exits with status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
