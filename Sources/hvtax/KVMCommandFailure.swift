/// A runtime failure of `probe` or `workload` (not a usage mistake): ArgumentParser prints
/// "Error: <description>" without the usage text and exits with status 1.
struct KVMCommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
