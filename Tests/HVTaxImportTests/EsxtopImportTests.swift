import HVTaxImport
import HVTaxModel
import HVTaxTestSupport
import Testing

@Suite("esxtop batch captures", .scratchDirectory)
struct EsxtopImportTests {
    static let host = #"\\localhost"#
    static let groupCounters = ["% Used", "% Run", "% System", "% Wait", "% VmWait", "% Ready", "% Idle",
                                "% Overlap", "% CoStop", "% Max Limited", "% Swap Wait"]

    /// `esxtop -b` output with known truth, constant over two samples:
    /// - Ted_DEV_ORA, 4 vCPUs: group %RDY 40 (10 per vCPU), %CSTP 16, %MLMTD 4, %RUN 200, %OVRLP 8,
    ///   %SYS 20, %IDLE 160; its vmx world's column is ignored.
    /// - `db:prim (old)`, 2 vCPUs (a name with colons and parentheses): %RDY 30, %CSTP 2, %MLMTD 0,
    ///   %RUN 100, %OVRLP 0, %SYS 2; no %Idle column for it in the group, only per vCPU.
    /// - the `system` group has no vmx-vcpu worlds: not a VM.
    static let capture: String = {
        var columns: [String] = []
        var cells: [String?] = []
        func add(_ path: String, _ value: String?) {
            columns.append(path)
            cells.append(value)
        }
        let ted: [String: String] = ["% Used": "212", "% Run": "200", "% System": "20", "% Wait": "160", "% VmWait": "4",
                                     "% Ready": "40", "% Idle": "160", "% Overlap": "8", "% CoStop": "16",
                                     "% Max Limited": "4", "% Swap Wait": "0"]
        for counter in groupCounters { add("\(host)\\Group Cpu(28868:Ted_DEV_ORA)\\\(counter)", ted[counter]) }
        for vcpu in 0..<4 {
            let instance = "28868:Ted_DEV_ORA:\(28870 + vcpu):vmx-vcpu-\(vcpu):Ted_DEV_ORA"
            add("\(host)\\Vcpu(\(instance))\\% Ready", "10")
            add("\(host)\\Vcpu(\(instance))\\% Run", "50")
            add("\(host)\\Vcpu(\(instance))\\% Overlap", "2")
            add("\(host)\\Vcpu(\(instance))\\% System", "5")
            add("\(host)\\Vcpu(\(instance))\\% CoStop", "\(vcpu)")
        }
        add("\(host)\\Vcpu(28868:Ted_DEV_ORA:28869:vmx)\\% Ready", "1")
        let db: [String: String] = ["% Used": "102", "% Run": "100", "% System": "2", "% Ready": "30", "% Overlap": "0",
                                    "% CoStop": "2", "% Max Limited": "0"]
        for counter in groupCounters where db[counter] != nil {
            add("\(host)\\Group Cpu(4000:db:prim (old))\\\(counter)", db[counter])
        }
        for vcpu in 0..<2 {
            let instance = "4000:db:prim (old):\(4002 + vcpu):vmx-vcpu-\(vcpu):db:prim (old)"
            add("\(host)\\Vcpu(\(instance))\\% Ready", "15")
            add("\(host)\\Vcpu(\(instance))\\% Idle", "\(20 + 10 * vcpu)")
        }
        add("\(host)\\Group Cpu(2:system)\\% Ready", "0")
        add("\(host)\\Physical Cpu(0)\\% Processor Time", "37.5")
        add("\(host)\\Memory\\Free MBytes", "1024")
        return CaptureFiles.pdh(columns: columns, rows: [("11/20/2026 10:00:00", cells), ("11/20/2026 10:00:05", cells)])
    }()

    @Test func groupsBecomePerVCPUFigures() throws {
        let report = try CaptureFiles.importText(Self.capture)
        #expect(report.source.kind == .esxtop)
        #expect(report.source.intervalSeconds == 5)
        let host = try #require(report.hosts.first)
        #expect(host.name == "localhost")
        #expect(host.vms.map(\.name) == ["Ted_DEV_ORA", "db:prim (old)"])
        #expect(host.vcpuCount == 6)

        let ted = try #require(host.vms.first)
        #expect(ted.groupID == "28868" && ted.cpuCount == 4)
        // %RDY 40 for a 4-vCPU group is 10% per vCPU.
        #expect(ted.values[.preempted]?.mean.isClose(to: 0.10) == true)
        #expect(ted.values[.coStop]?.mean.isClose(to: 0.04) == true)
        #expect(ted.values[.maxLimited]?.mean.isClose(to: 0.01) == true)
        #expect(ted.values[.guest]?.mean.isClose(to: (200 - 8) / 4 / 100) == true)
        #expect(ted.values[.hypervisor]?.mean.isClose(to: 0.05) == true)
        #expect(ted.values[.halted]?.mean.isClose(to: 0.40) == true)
        #expect(ted.values[.used]?.mean.isClose(to: 0.53) == true)
        #expect(ted.values[.vmWait]?.mean.isClose(to: 0.01) == true)
        #expect(ted.values[.preempted]?.samples == 2)
        #expect(ted.tax.ratio.map { $0.isClose(to: 0.05 / 0.53) } == true)
        #expect(ted.tax.level == .warning)
        // Steal is rated "from 10%"; esxtop's own %RDY rule is "above 10%": exactly 10 is only a warning there.
        #expect(ted.steal.level == .critical)
        #expect(ted.levels[.preempted] == .warning)
        #expect(ted.levels[.coStop] == .critical)
        #expect(ted.levels[.maxLimited] == .critical)

        #expect(ted.cpus.map(\.index) == [0, 1, 2, 3])
        #expect(ted.cpus.map(\.instance).first == "28868:Ted_DEV_ORA:28870:vmx-vcpu-0:Ted_DEV_ORA")
        let vcpu3 = ted.cpus[3]
        #expect(vcpu3.values[.preempted]?.mean.isClose(to: 0.10) == true)
        #expect(vcpu3.values[.guest]?.mean.isClose(to: 0.48) == true)
        #expect(vcpu3.values[.coStop]?.mean.isClose(to: 0.03) == true)
        #expect(vcpu3.levels[.coStop] == .ok)
        #expect(vcpu3.values[.halted] == nil)

        let db = try #require(host.vms.last)
        #expect(db.groupID == "4000" && db.cpuCount == 2)
        #expect(db.values[.preempted]?.mean.isClose(to: 0.15) == true)
        #expect(db.levels[.preempted] == .critical)
        #expect(db.levels[.maxLimited] == .ok)
        #expect(db.levels[.coStop] == .ok)
        // No group %Idle: the VM's figure is the mean of its vCPUs'.
        #expect(db.values[.halted]?.mean.isClose(to: 0.25) == true)
        #expect(db.tax.ratio.map { $0.isClose(to: 0.01 / 0.51) } == true)

        // Host: per vCPU over all six vCPUs, each VM weighted by its vCPU count.
        #expect(host.values[.preempted]?.mean.isClose(to: (0.10 * 4 + 0.15 * 2) / 6) == true)
        #expect(host.steal.level == .critical)
    }

    @Test func availabilitySaysWhatEsxtopCannotGive() throws {
        let report = try CaptureFiles.importText(Self.capture)
        for figure in CaptureFigure.exitLike {
            let availability = try #require(report.availability(of: figure))
            #expect(!availability.available)
            #expect(availability.reason?.hasPrefix("esxtop") == true)
        }
        #expect(report.availability(of: .vmm)?.reason?.contains("vmx process") == true)
        #expect(report.availability(of: .dispatchWait)?.available == false)
        #expect(report.availability(of: .cpuLatency)?.reason?.contains("not in this capture") == true)
        #expect(report.availability(of: .guest)?.source
            == #"Group Cpu(*)\% Run - Group Cpu(*)\% Overlap; Vcpu(*:vmx-vcpu-*)\% Run - Vcpu(*:vmx-vcpu-*)\% Overlap"#)
        let host = try #require(report.hosts.first)
        for vm in host.vms {
            #expect(vm.values[.intercepts] == nil && vm.values[.vmm] == nil)
        }
        #expect(report.quality.notes.contains { $0.contains("1 CPU groups have no vmx-vcpu worlds") && $0.contains("system") })
        #expect(report.quality.unusedObjects == ["Physical Cpu": 1, "Memory": 1])
    }

    @Test func withoutVcpuColumnsNoVMIsGuessed() throws {
        let text = CaptureFiles.pdh(columns: [
            "\(Self.host)\\Group Cpu(28868:Ted_DEV_ORA)\\% Ready", "\(Self.host)\\Group Cpu(1:idle)\\% Ready",
        ], rows: [("11/20/2026 10:00:00", ["40", "0"])])
        let report = try CaptureFiles.importText(text)
        #expect(report.hosts.first?.vms.isEmpty == true)
        #expect(report.quality.notes.contains { $0.contains("no Vcpu columns") })
    }

    @Test("vCPU worlds from Vcpu instances", arguments: [
        ("28868:Ted_DEV_ORA:28870:vmx-vcpu-0:Ted_DEV_ORA", "28868", "Ted_DEV_ORA", 0),
        ("4000:db:prim (old):4003:vmx-vcpu-1:db:prim (old)", "4000", "db:prim (old)", 1),
        ("12:x:13:vmx-vcpu-15:x", "12", "x", 15),
    ])
    func vcpuWorlds(instance: String, group: String, name: String, vcpu: Int) {
        let world = EsxtopMapperProbe.world(instance)
        #expect(world?.groupID == group && world?.name == name && world?.vcpu == vcpu)
    }

    @Test("other worlds are not vCPUs", arguments: ["28868:Ted_DEV_ORA:28869:vmx", "28868:Ted_DEV_ORA:28871:mks:Ted_DEV_ORA", "1:system:1:idle1"])
    func otherWorlds(instance: String) {
        #expect(EsxtopMapperProbe.world(instance) == nil)
    }
}

@Suite("thresholds at their boundary", .scratchDirectory)
struct BoundaryTests {
    /// %RDY 20 for a 2-vCPU group is 0.01 * 20 / 2 = 0.09999999999999999 in binary: still exactly
    /// the 10% of the steal threshold ("from 10%": critical) and of esxtop's rule ("above 10%": not).
    @Test(arguments: [(20.0, 2), (40.0, 4), (30.0, 3), (80.0, 8)])
    func readyAtTenPercent(groupReady: Double, vcpus: Int) throws {
        var columns = [#"\\h\Group Cpu(7:vm)\% Ready"#]
        for vcpu in 0..<vcpus { columns.append(#"\\h\Vcpu(7:vm:\#(10 + vcpu):vmx-vcpu-\#(vcpu):vm)\% Ready"#) }
        let cells = ["\(groupReady)"] + Array(repeating: "10", count: vcpus)
        let report = try CaptureFiles.importText(CaptureFiles.pdh(columns: columns, rows: [("11/20/2026 10:00:00", cells)]))
        let vm = try #require(report.hosts.first?.vms.first)
        #expect(vm.steal.ratio == 0.1)
        #expect(vm.steal.level == .critical)
        #expect(vm.levels[.preempted] == .warning)
    }
}
