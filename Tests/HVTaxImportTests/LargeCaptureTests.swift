import Foundation
import HVTaxImport
import HVTaxModel
import HVTaxTestSupport
import Testing

/// A generated esxtop capture of thousands of columns and tens of megabytes, with known truth,
/// for correctness at size. Speed is measured by scripts/bench/import.sh, not here.
@Suite("large esxtop capture", .scratchDirectory)
struct LargeCaptureTests {
    static let vms = 40
    static let vcpusPerVM = 4
    static let fillerColumns = 2400
    static let rows = 700
    static let counters = ["% Ready", "% Used", "% Run", "% System", "% Wait", "% VmWait", "% Idle", "% Overlap",
                           "% CoStop", "% Max Limited", "% Swap Wait", "% Latency", "% Demand", "Switches/sec", "Migrates/sec"]

    /// Per vCPU in row `row`, VM `vm`: %RDY = (row % 5) + (vm % 3), varying; the rest constant.
    static func perVCPU(_ counter: String, vm: Int, row: Int) -> Double {
        switch counter {
        case "% Ready": Double(row % 5 + vm % 3)
        case "% Run": 50
        case "% Overlap": 1
        case "% System": 3
        case "% Idle": 40
        case "% CoStop": vm % 2 == 0 ? 0.5 : 4
        default: 2
        }
    }

    /// The capture: its header, then rows whose body depends only on `row % 5`, so the five
    /// bodies are built once and the file is written at disk speed even in a debug build.
    static func generate() throws -> (path: String, bytes: Int) {
        let host = #"\\esx01.example.com"#
        var header = ["\"(PDH-CSV 4.0) (UTC)(0)\""]
        for vm in 0..<vms {
            let group = "\(100_000 + vm * 100):vm \(vm):(x)"
            for counter in counters { header.append("\"\(host)\\Group Cpu(\(group))\\\(counter)\"") }
            for vcpu in 0..<vcpusPerVM {
                let world = "\(100_000 + vm * 100):vm \(vm):(x):\(100_010 + vm * 100 + vcpu):vmx-vcpu-\(vcpu):vm \(vm):(x)"
                for counter in counters { header.append("\"\(host)\\Vcpu(\(world))\\\(counter)\"") }
            }
        }
        for filler in 0..<fillerColumns {
            header.append("\"\(host)\\Network Port(DvsPortset-0:\(50_331_648 + filler):vmnic\(filler % 4))\\Packets Received/sec\"")
        }
        let filler = String(repeating: ",\"1234.56\"", count: fillerColumns)
        let bodies = (0..<5).map { phase -> String in
            var cells: [String] = []
            for vm in 0..<vms {
                for counter in counters {
                    cells.append("\"\(perVCPU(counter, vm: vm, row: phase) * Double(vcpusPerVM))\"")
                }
                for _ in 0..<vcpusPerVM {
                    for counter in counters { cells.append("\"\(perVCPU(counter, vm: vm, row: phase))\"") }
                }
            }
            return cells.joined(separator: ",") + filler + "\r\n"
        }
        var data = Data((header.joined(separator: ",") + "\r\n").utf8)
        for row in 0..<rows {
            let seconds = row * 5
            let stamp = "\"11/20/2026 \(10 + seconds / 3600):\(pad(seconds / 60 % 60)):\(pad(seconds % 60))\","
            data.append(contentsOf: stamp.utf8)
            data.append(contentsOf: bodies[row % 5].utf8)
        }
        return (try CaptureFiles.write(data, name: "large-esxtop.csv"), data.count)
    }

    static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    @Test func correctAtSize() throws {
        let (path, bytes) = try Self.generate()
        #expect(bytes > 20_000_000)
        let report = try CaptureImporter.importFile(path: path)
        let columns = Self.vms * (1 + Self.vcpusPerVM) * Self.counters.count + Self.fillerColumns
        #expect(report.source.columns == columns)
        #expect(columns > 5000)
        #expect(report.source.bytes == UInt64(bytes))
        #expect(report.source.samples == UInt64(Self.rows))
        #expect(report.source.intervalSeconds == 5)
        #expect(report.quality.malformedRows == 0 && report.quality.blankCells == 0)
        let host = try #require(report.hosts.first)
        #expect(host.vms.count == Self.vms)
        #expect(host.vcpuCount == Self.vms * Self.vcpusPerVM)
        for vm in host.vms {
            let index = try #require(Int(vm.name.dropFirst(3).prefix { $0.isNumber }))
            #expect(vm.name == "vm \(index):(x)")
            // rows is a multiple of 5: row % 5 averages 2, ranges 0...4.
            let ready = try #require(vm.values[.preempted])
            let base = Double(index % 3)
            #expect(ready.mean.isClose(to: (2 + base) / 100))
            #expect(ready.min.isClose(to: base / 100) && ready.max.isClose(to: (4 + base) / 100))
            #expect(ready.samples == UInt64(Self.rows))
            #expect(vm.values[.guest]?.mean.isClose(to: 0.49) == true)
            #expect(vm.tax.ratio.map { $0.isClose(to: 0.03 / 0.52) } == true)
            #expect(vm.levels[.coStop] == (index % 2 == 0 ? .ok : .critical))
            #expect(vm.cpus.count == Self.vcpusPerVM)
            for cpu in vm.cpus {
                #expect(cpu.values[.preempted]?.mean.isClose(to: (2 + base) / 100) == true)
            }
        }
        // Host mean over all vCPUs: VMs 0,1,2 repeat with base 0,1,2 (40 VMs: 14 of 0, 13 of 1, 13 of 2).
        let meanBase = Double(14 * 0 + 13 * 1 + 13 * 2) / 40
        #expect(host.values[.preempted]?.mean.isClose(to: (2 + meanBase) / 100) == true)
        try? FileManager.default.removeItem(atPath: path)
    }
}
