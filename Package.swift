// swift-tools-version: 6.2
// hvtax: measure the hypervisor tax on a KVM host.
//
// The targets follow the pipeline, one module per stage:
//   sources (HVTaxTrace, HVTaxHost, HVTaxKVM) -> events (HVTaxEvents) -> analysis (HVTaxAnalysis)
//   -> model (HVTaxModel) -> renderers (HVTaxRender); `hvtax` only parses arguments and wires them.
import PackageDescription

/// Every hvtax target builds in Swift 6 mode with strict concurrency and no warnings.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
]

/// The modules every trace event passes through, and the host module whose live sampler reads ~3,000
/// counter files a second. Exclusivity is still proven at compile time; only the run-time checks on
/// class properties go in release builds, where they cost a fifth of the time per event (measured
/// with perf on the 10M-event benchmark, docs/benchmarks.md) and 2-3% of a live sample (docs/live.md).
let hotPath: [SwiftSetting] = strict + [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "hvtax",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hvtax", targets: ["hvtax"]),
        .library(name: "HVTaxModel", targets: ["HVTaxModel"]),
        .library(name: "HVTaxTrace", targets: ["HVTaxTrace"]),
        .library(name: "HVTaxAnalysis", targets: ["HVTaxAnalysis"]),
        .library(name: "HVTaxRender", targets: ["HVTaxRender"]),
        .library(name: "HVTaxHost", targets: ["HVTaxHost"]),
        .library(name: "HVTaxImport", targets: ["HVTaxImport"]),
        .library(name: "HVTaxTracefs", targets: ["HVTaxTracefs"]),
        .library(name: "HVTaxKVM", targets: ["HVTaxKVM"]),
        .library(name: "HVTaxMetrics", targets: ["HVTaxMetrics"]),
        .library(name: "HVTaxAdvice", targets: ["HVTaxAdvice"]),
        .library(name: "HVTaxExporters", targets: ["HVTaxExporters"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // hvtax serve: HTTP server (TLS), bcrypt for basic auth, history in SQLite, config in YAML.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // OTLP metrics for OpenTelemetry Collectors; only the HTTP exporter (no gRPC stack to build).
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // HTTP POSTs (InfluxDB writes, webhooks) without FoundationNetworking's libcurl (HTTPPost.swift).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // zlib and zstd, for compressed traces; Swift has no zstd package, so a system-library shim.
        .systemLibrary(name: "CCompression", path: "Sources/CCompression"),
        // What Swift cannot say to the code generator: __builtin_prefetch (the analysis prefetches
        // exit-latency slots) and __builtin_unpredictable (the trace.dat merge's branch-free choice).
        .systemLibrary(name: "CHotPath", path: "Sources/CHotPath"),

        // model: the report types, units, exit-reason tables, thresholds. No I/O.
        .target(name: "HVTaxModel", swiftSettings: strict),
        // files a command writes: opened first, put in place only when whole, errors naming the path.
        .target(name: "HVTaxFiles", swiftSettings: strict),
        // events: the small value types every source yields. No I/O.
        .target(name: "HVTaxEvents", dependencies: ["HVTaxModel"], swiftSettings: hotPath),
        // sources: trace readers (ftrace, trace-cmd, perf script) -> events.
        .target(
            name: "HVTaxTrace",
            dependencies: [
                "HVTaxEvents", "HVTaxModel", "HVTaxFiles", "CCompression", "CHotPath",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: hotPath),
        // sources: hvtax's own tracefs instance, live recording into trace.dat.
        .target(name: "HVTaxTracefs", dependencies: ["HVTaxTrace"], swiftSettings: strict),
        // analysis: the vCPU state machine, exit statistics and paths -> model.
        .target(
            name: "HVTaxAnalysis",
            dependencies: [
                "HVTaxEvents", "HVTaxModel", "CHotPath",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: hotPath),
        // wiring: trace files -> readers -> analysis -> report, shared by the command and the tests.
        .target(name: "HVTaxPipeline", dependencies: ["HVTaxTrace", "HVTaxAnalysis", "HVTaxEvents", "HVTaxModel"],
                swiftSettings: hotPath),
        // synthetic traces with known ground truth, for tests and benchmarks.
        .target(name: "HVTaxSynth", dependencies: ["HVTaxModel", "HVTaxEvents"], swiftSettings: strict),
        // host sources: procfs, sysfs, tracefs, /dev/kvm and tools, all read under one configurable
        // root so tests can point it at a fixture tree; `hvtax doctor` is built on it.
        .target(name: "HVTaxHost", dependencies: ["HVTaxModel", "CCompression", "CKVM"], swiftSettings: hotPath),
        // sources of other hypervisors: Hyper-V perfmon and esxtop PDH-CSV captures -> capture report.
        .target(
            name: "HVTaxImport",
            dependencies: [
                "HVTaxModel", "HVTaxTrace",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        // ioctl request numbers and kernel structs of <linux/kvm.h>, which Swift cannot import alone.
        .target(name: "CKVM"),
        // source: hvtax's own guest on /dev/kvm (VM/vCPU lifecycle, binary stats, probe, workload).
        .target(
            name: "HVTaxKVM",
            dependencies: ["CKVM", "HVTaxModel", "HVTaxHost"],
            swiftSettings: strict),
        // analysis: the advice rules (one data file) applied to any report's figures -> findings.
        // The rules are compiled into the binary: a resource bundle made hvtax depend on its build
        // folder (or a bundle installed beside it), and finding it listed the executable's folder.
        .target(name: "HVTaxAdvice", dependencies: ["HVTaxModel"],
                resources: [.embedInCode("Resources/advice-rules.json")], swiftSettings: strict),
        // exporters beyond Prometheus, on the same metric families: InfluxDB line protocol (and its
        // HTTP write API), the net-snmp pass_persist subtree.
        .target(name: "HVTaxExporters",
                dependencies: ["HVTaxMetrics", "HVTaxModel", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // exporter: the serve metric families as OTLP metrics through swift-otel (OTLP/HTTP protobuf).
        .target(name: "HVTaxOTLP",
                dependencies: ["HVTaxMetrics",
                               .product(name: "OTel", package: "swift-otel"),
                               .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                swiftSettings: strict),
        // renderers: terminal text, JSON, CSV, HTML with inline SVG charts.
        .target(name: "HVTaxRender", dependencies: ["HVTaxModel"], swiftSettings: strict),
        // exporters that stream while the analysis runs: vCPU timelines as Chrome trace-event JSON (Perfetto).
        .target(name: "HVTaxExport",
                dependencies: ["HVTaxAnalysis", "HVTaxEvents", "HVTaxModel", "HVTaxFiles",
                               .product(name: "SystemPackage", package: "swift-system")],
                swiftSettings: hotPath),
        // exporters' common ground: snapshots and trace reports -> named metric families (help, type,
        // unit, labels, values), and the Prometheus text / OpenMetrics renderer.
        .target(name: "HVTaxMetrics", dependencies: ["HVTaxModel"], swiftSettings: strict),
        // the exporter: `hvtax serve` (HTTP, TLS, basic auth), its SQLite history, thresholds and actions.
        .target(
            name: "HVTaxServe",
            dependencies: [
                "HVTaxHost", "HVTaxModel", "HVTaxMetrics", "HVTaxAdvice", "HVTaxExporters", "HVTaxRender", "CCompression",
                "HVTaxTracefs", "HVTaxTrace", "HVTaxAnalysis", "HVTaxEvents",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict),
        // two reports side by side: differences and their significance.
        .target(name: "HVTaxCompare", dependencies: ["HVTaxModel"], swiftSettings: strict),
        // the command line: argument parsing and wiring only.
        .executableTarget(
            name: "hvtax",
            dependencies: [
                "HVTaxModel", "HVTaxFiles", "HVTaxTrace", "HVTaxTracefs", "HVTaxAnalysis", "HVTaxRender", "HVTaxSynth", "HVTaxPipeline", "HVTaxHost",
                "HVTaxImport",
                "HVTaxExport", "HVTaxCompare", "HVTaxKVM", "HVTaxMetrics", "HVTaxAdvice", "HVTaxServe", "HVTaxExporters", "HVTaxOTLP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // Shared by the test targets: a temporary directory per test, removed when the test ends.
        .target(
            name: "HVTaxTestSupport",
            path: "Tests/HVTaxTestSupport",
            swiftSettings: strict),
        .testTarget(
            name: "HVTaxCLITests",
            dependencies: ["hvtax"],
            swiftSettings: strict),
        .testTarget(
            name: "HVTaxTraceTests",
            dependencies: ["HVTaxTrace", "HVTaxEvents", "HVTaxModel", "HVTaxPipeline", "HVTaxTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict),
        .testTarget(
            name: "HVTaxAnalysisTests",
            dependencies: ["HVTaxAnalysis", "HVTaxTrace", "HVTaxEvents", "HVTaxModel", "HVTaxSynth", "HVTaxRender", "HVTaxPipeline",
                           .product(name: "Histogram", package: "hdrhistogram-swift")],
            swiftSettings: strict),
        // HTML, Perfetto and compare: checked with real parsers and a real browser when present.
        .testTarget(
            name: "HVTaxPicturesTests",
            dependencies: ["HVTaxExport", "HVTaxCompare", "HVTaxRender", "HVTaxPipeline", "HVTaxAnalysis",
                           "HVTaxEvents", "HVTaxModel", "HVTaxSynth", "HVTaxTestSupport"],
            exclude: ["Scripts"],
            swiftSettings: strict),

        // The live view: discovery, sampling and deltas on generated host trees
        // (scripts/gen-proc-tree.py), and on a real QEMU where /dev/kvm and qemu exist; `hvtax top`
        // itself (the built executable) in a real terminal under tmux.
        .testTarget(
            name: "HVTaxLiveTests",
            dependencies: ["HVTaxHost", "HVTaxModel", "HVTaxRender", "HVTaxMetrics", "hvtax"],
            exclude: ["Fixtures"],
            swiftSettings: strict),
        // Fixture trees are read through their path (#filePath), not bundled as resources.
        .testTarget(
            name: "HVTaxHostTests",
            dependencies: ["HVTaxHost", "HVTaxModel", "HVTaxRender"],
            exclude: ["Fixtures"],
            swiftSettings: strict),
        .testTarget(
            name: "HVTaxImportTests",
            dependencies: ["HVTaxImport", "HVTaxModel", "HVTaxRender", "HVTaxTrace", "HVTaxTestSupport"],
            swiftSettings: strict),

        // advice: every rule crossed and not crossed on constructed reports; the shipped rules file.
        .testTarget(
            name: "HVTaxAdviceTests",
            dependencies: ["HVTaxAdvice", "HVTaxModel", "HVTaxRender", "HVTaxPipeline", "HVTaxAnalysis", "HVTaxTestSupport"],
            swiftSettings: strict),

        // InfluxDB line protocol, SNMP pass_persist and OTLP against real peers (influxd, snmpd,
        // line-protocol-parser, an OTLP receiver) started by the tests.
        .testTarget(
            name: "HVTaxExportersTests",
            dependencies: ["HVTaxExporters", "HVTaxOTLP", "HVTaxMetrics", "HVTaxModel", "HVTaxHost", "hvtax", "HVTaxTestSupport",
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            exclude: ["Scripts"],
            swiftSettings: strict),

        // the metric catalogue and exposition formats, checked with promtool where it is installed.
        .testTarget(
            name: "HVTaxMetricsTests",
            dependencies: ["HVTaxMetrics", "HVTaxModel", "HVTaxHost"],
            swiftSettings: strict),

        // hvtax serve against real peers: Prometheus scrapes it, curl tests TLS and auth, kill -9 on the history.
        .testTarget(
            name: "HVTaxServeTests",
            dependencies: [
                "HVTaxServe", "HVTaxMetrics", "HVTaxModel", "HVTaxHost", "hvtax",
                "HVTaxSynth", "HVTaxTrace", "HVTaxEvents", "HVTaxTracefs", "HVTaxTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: strict),

        // tests: the binary trace.dat reader and writer, fuzzed and checked against trace-cmd.
        .testTarget(
            name: "HVTaxTraceDatTests",
            dependencies: ["HVTaxTrace", "HVTaxTracefs", "HVTaxEvents", "HVTaxModel", "HVTaxPipeline", "HVTaxSynth",
                           "HVTaxAnalysis", "HVTaxRender", "HVTaxFiles", "HVTaxTestSupport"],
            swiftSettings: strict),
        // real /dev/kvm tests; they skip with a printed reason where /dev/kvm is absent.
        .testTarget(
            name: "HVTaxKVMTests",
            // hvtax itself: the process tests run the real `hvtax workload`.
            dependencies: ["HVTaxKVM", "HVTaxModel", "HVTaxRender", "HVTaxHost", "HVTaxTracefs", "HVTaxPipeline", "CKVM", "hvtax"],
            // the independent stats reader the cross-check runs (not a resource: found via #filePath).
            exclude: ["kvm_stats_reader.py"],
            swiftSettings: strict),
    ]
)
