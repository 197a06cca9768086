@testable import HVTaxImport

/// Internal parsers the tests check directly.
enum EsxtopMapperProbe {
    static func world(_ instance: String) -> (groupID: String, name: String, vcpu: Int)? {
        EsxtopMapper.vcpuWorld(instance)
    }
}
