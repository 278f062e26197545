// swift-tools-version: 6.0
import PackageDescription

/// Code that the blocking probes unwind through must keep frame pointers.
let framePointers: [CSetting] = [.unsafeFlags(["-fno-omit-frame-pointer", "-O1"])]

let package = Package(
  name: "Vigil",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
  ],
  targets: [
    // C: the ABI shared with the BPF programs (no libbpf), and the libbpf shims.
    .target(name: "CVigilABI"),
    .target(
      name: "CLibBPF",
      linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("z")]
    ),

    // BPF objects compiled from bpf/ by the plugin and embedded in the binary.
    .plugin(name: "BPFCompilerPlugin", capability: .buildTool()),
    .target(name: "VigilBPF", plugins: ["BPFCompilerPlugin"]),
    // Test-only BPF objects (bpf/tests), e.g. a program the verifier must refuse.
    .target(name: "VigilBPFTestObjects", plugins: ["BPFCompilerPlugin"]),

    // The one module that talks to libbpf.
    .target(
      name: "BPFCore",
      dependencies: ["CLibBPF", .product(name: "Logging", package: "swift-log")]
    ),

    // Pure logic: no libbpf, no root.
    .target(name: "BlockingModel", dependencies: ["CVigilABI"]),
    .target(name: "Symbolization"),
    // Reads Go binaries (build info, pclntab, DWARF, runtime symbols); zlib for compressed DWARF.
    .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
    .target(name: "GoRuntime", dependencies: ["CZlib"], exclude: ["Generate"]),
    // Goroutine snapshots, lifecycle tracking, grouping, leak detection, pprof output (pure).
    .target(name: "GoroutineModel"),
    // Reads a running Go process's goroutines and threads with process_vm_readv (no libbpf).
    .target(name: "GoProcess", dependencies: ["GoRuntime", "GoroutineModel"]),
    .target(name: "AgentConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
    // Policy files read from disk (no parsing): shared by the CLI, which must stay small.
    .target(name: "PolicyFiles"),
    .target(
      name: "Policy",
      dependencies: ["CVigilABI", "PolicyFiles", .product(name: "Yams", package: "Yams")]),
    .target(name: "ControlAPI", dependencies: ["GoroutineModel"], exclude: ["openapi.yaml"]),
    .target(name: "ControlHTTP"),

    // Loaded programs as Swift types.
    .target(
      name: "Probes",
      dependencies: [
        "BPFCore", "VigilBPF", "CVigilABI", .product(name: "Logging", package: "swift-log"),
      ]
    ),

    .target(
      name: "PolicyDatapath",
      dependencies: ["BPFCore", "VigilBPF", "CVigilABI"]
    ),

    // The daemon's services.
    .target(
      name: "Agent",
      dependencies: [
        "Probes", "BlockingModel", "Symbolization", "AgentConfig", "ControlAPI", "ControlHTTP",
        "Policy", "PolicyDatapath", "GoProcess", "GoroutineModel", "GoRuntime",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    .executableTarget(
      name: "vigild",
      dependencies: [
        "Agent", "AgentConfig", "Policy",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    // The CLI links neither Foundation nor Yams: it starts in a few milliseconds.
    .executableTarget(
      name: "vigil",
      dependencies: [
        "ControlAPI", "ControlHTTP", "PolicyFiles",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),

    // Test workload: threads that sleep, wait on futexes and read pipes, with frame pointers.
    .executableTarget(
      name: "vigil-workload", cSettings: framePointers,
      linkerSettings: [.linkedLibrary("pthread")]
    ),
    .executableTarget(
      name: "vigil-bench", dependencies: ["BPFCore", "CVigilABI", "VigilBPFTestObjects"]),
    // Goroutine snapshot cost for 1k/10k/100k parked goroutines; a look at one Go process.
    .executableTarget(name: "vigil-go-bench", dependencies: ["GoProcess", "GoroutineModel"]),
    // Policy path benchmark: compile, fill, flip and per-packet cost.
    .executableTarget(
      name: "vigil-policy-bench",
      dependencies: ["Policy", "PolicyDatapath", "BPFCore", "VigilBPFTestObjects"]),

    .testTarget(
      name: "VigilUnitTests",
      dependencies: [
        "BlockingModel", "Symbolization", "AgentConfig", "ControlAPI", "ControlHTTP", "Agent",
        "Policy", "GoRuntime", "GoroutineModel", "GoProcess", "Probes",
      ],
      // Go sources the tests build with every installed toolchain.
      exclude: ["Fixtures"]
    ),
    .testTarget(
      name: "VigilIntegrationTests",
      dependencies: [
        "BPFCore", "Probes", "Agent", "ControlAPI", "ControlHTTP", "BlockingModel", "AgentConfig",
        "VigilBPF", "VigilBPFTestObjects", "Policy", "PolicyDatapath",
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
  ]
)
