import Foundation
import Testing

@testable import AgentConfig

/// Parses `yaml` as `vigild.yaml` and, when `validating`, validates it without a cgroup2 mount.
private func configError(_ yaml: String, validating: Bool = false) -> ConfigError? {
  do {
    let configuration = try AgentConfiguration.parse(yaml: yaml, source: "vigild.yaml")
    if validating { _ = try configuration.validated(source: "vigild.yaml", cgroupMount: nil) }
    return nil
  } catch {
    return error
  }
}

@Suite struct AgentConfigTests {
  @Test func embeddedDefaultParsesAndValidates() throws {
    let configuration = try AgentConfiguration.parse(
      yaml: AgentConfiguration.embeddedDefault, source: "embedded"
    )
    .validated(source: "embedded", cgroupMount: nil)
    #expect(
      configuration.targets
        == ["containerd", "kubelet", "dockerd", "sshd", "systemd-journald"].map(
          TargetSpec.executable))
    var withoutTargets = configuration
    withoutTargets.targets = []
    #expect(withoutTargets == AgentConfiguration())
  }

  @Test func exampleFileParsesAndValidates() throws {
    let repository = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = repository.appendingPathComponent("deploy/vigild.example.yaml").path
    let yaml = try String(contentsOfFile: path, encoding: .utf8)
    let configuration = try AgentConfiguration.parse(yaml: yaml, source: "vigild.example.yaml")
      .validated(source: "vigild.example.yaml", cgroupMount: nil)
    #expect(!configuration.targets.isEmpty)
  }

  @Test func missingKeysTakeDefaults() throws {
    #expect(try AgentConfiguration.parse(yaml: "", source: "empty.yaml") == AgentConfiguration())
    #expect(
      try AgentConfiguration.parse(yaml: "# nothing\n", source: "empty.yaml")
        == AgentConfiguration())
    let partial = try AgentConfiguration.parse(
      yaml: "blocking:\n  futexThreshold: 1ms\nsocket:\n", source: "partial.yaml")
    #expect(partial.blocking == BlockingSettings(futexThreshold: 1_000_000))
    #expect(partial.socket == SocketSettings())
  }

  @Test func readsEveryField() throws {
    let yaml = """
      socket: {path: /run/v.sock, mode: "0600", group: null}
      bpf: {pinPath: /sys/fs/bpf/x, ringBufferBytes: 16MiB, wakeupBatchBytes: 65536}
      blocking:
        {offcpuThreshold: 1.5ms, futexThreshold: 500us, stackDepth: 64, states: [uninterruptible]}
      targets: [{pid: 42}, {executable: /usr/sbin/nginx}, {cgroup: /sys/fs/cgroup/web.slice}]
      output: {events: /var/log/vigil.jsonl, format: json}
      metrics: {listen: "127.0.0.1:9466"}
      symbolization: {cacheFiles: 8, cacheProcesses: 16}
      """
    let expected = AgentConfiguration(
      socket: SocketSettings(path: "/run/v.sock", mode: 0o600, group: nil),
      bpf: BPFSettings(
        pinPath: "/sys/fs/bpf/x", ringBufferBytes: 16 << 20, wakeupBatchBytes: 65536),
      blocking: BlockingSettings(
        offcpuThreshold: 1_500_000, futexThreshold: 500_000, stackDepth: 64,
        states: [.uninterruptible]),
      targets: [.pid(42), .executable("/usr/sbin/nginx"), .cgroup("/sys/fs/cgroup/web.slice")],
      output: OutputSettings(events: .file("/var/log/vigil.jsonl")),
      metrics: MetricsSettings(listen: "127.0.0.1:9466"),
      symbolization: SymbolizationSettings(cacheFiles: 8, cacheProcesses: 16))
    #expect(try AgentConfiguration.parse(yaml: yaml, source: "full.yaml") == expected)
  }

  @Test func badDurationNamesFieldAndValue() throws {
    let error = try #require(configError("blocking:\n  offcpuThreshold: 10 parsecs\n"))
    #expect(error.field == "blocking.offcpuThreshold")
    #expect(
      error.description
        == #"vigild.yaml: blocking.offcpuThreshold: "10 parsecs" is not a duration (use 10ms, 1s, 500us)"#
    )
  }

  @Test(arguments: [
    ("blocking:\n  offcpuThresold: 10ms\n", "blocking.offcpuThresold"),
    ("sockets:\n  path: /x\n", "sockets"),
    ("targets:\n  - pid: 1\n  - exe: nginx\n", "targets[1].exe"),
  ])
  func unknownKeyIsNamed(yaml: String, field: String) throws {
    let error = try #require(configError(yaml))
    #expect(error.field == field)
    #expect(error.description.contains("is not a known key (expected one of:"))
  }

  @Test(arguments: [
    ("socket: 5\n", "socket", "must be a mapping"),
    ("socket:\n  path: [a, b]\n", "socket.path", "must be a single value, not a list"),
    ("blocking:\n  stackDepth: deep\n", "blocking.stackDepth", "is not an integer"),
    ("blocking:\n  stackDepth:\n", "blocking.stackDepth", "needs a value"),
    ("blocking:\n  states: [asleep]\n", "blocking.states[0]", "is not a task state"),
    ("targets:\n  pid: 1\n", "targets", "must be a list, not a mapping"),
    ("targets:\n  - pid: one\n", "targets[0].pid", "is not a process id"),
    ("targets:\n  - {pid: 1, executable: x}\n", "targets[0]", "must have exactly one of"),
    ("bpf:\n  ringBufferBytes: 8MB\n", "bpf.ringBufferBytes", "is not a size"),
    (
      "output:\n  events: relative.log\n", "output.events",
      "is not stdout, none or an absolute file path"
    ),
    ("socket:\n  path: /a\n  path: /b\n", "socket.path", "is set more than once"),
  ])
  func wrongTypeNamesField(yaml: String, field: String, reason: String) throws {
    let error = try #require(configError(yaml))
    #expect(error.field == field)
    #expect(error.description.contains(reason), "\(error)")
  }

  @Test func negativeStackDepthFailsValidation() throws {
    #expect(configError("blocking:\n  stackDepth: -1\n") == nil)
    let error = try #require(configError("blocking:\n  stackDepth: -1\n", validating: true))
    #expect(
      error.description == #"vigild.yaml: blocking.stackDepth: "-1" must be between 1 and 32"#)
  }

  @Test func badSocketModeIsRejected() throws {
    let error = try #require(configError("socket:\n  mode: \"999\"\n"))
    #expect(error.field == "socket.mode")
    #expect(error.value == "999")
  }

  @Test func malformedYAMLReportsLine() throws {
    let error = try #require(configError("socket:\n  path: /run/x\n  mode: [0660\nbpf: {}\n"))
    #expect(error.field.isEmpty)
    #expect(error.line == 4)
    #expect(error.description.hasPrefix("vigild.yaml:4:"))
    #expect(error.description.contains("malformed YAML"))
  }

  @Test(arguments: [
    ("bpf:\n  ringBufferBytes: 3000000\n", "bpf.ringBufferBytes"),
    ("bpf:\n  ringBufferBytes: 1KiB\n", "bpf.ringBufferBytes"),
    ("bpf:\n  ringBufferBytes: 1MiB\n  wakeupBatchBytes: 1MiB\n", "bpf.wakeupBatchBytes"),
    ("socket:\n  path: run/vigil.sock\n", "socket.path"),
    ("socket:\n  group: \"\"\n", "socket.group"),
    ("blocking:\n  states: []\n", "blocking.states"),
    ("metrics:\n  listen: localhost\n", "metrics.listen"),
    ("metrics:\n  listen: \"::1:9466\"\n", "metrics.listen"),
    ("metrics:\n  listen: \":9466\"\n", "metrics.listen"),
    ("metrics:\n  listen: \"127.0.0.1:0\"\n", "metrics.listen"),
    ("symbolization:\n  cacheFiles: 0\n", "symbolization.cacheFiles"),
    ("targets:\n  - pid: 1\n  - pid: 0\n", "targets[1].pid"),
    ("targets:\n  - cgroup: /sys/fs/cgroup/x\n", "targets[0].cgroup"),
  ])
  func validationNamesField(yaml: String, field: String) throws {
    #expect(configError(yaml) == nil)
    let error = try #require(configError(yaml, validating: true))
    #expect(error.field == field, "\(error)")
    #expect(error.source == "vigild.yaml")
  }

  @Test func acceptedListenAddresses() throws {
    for listen in ["127.0.0.1:9466", "[::1]:9466", "node.local:1", "0.0.0.0:9466"] {
      #expect(
        configError("metrics:\n  listen: \"\(listen)\"\n", validating: true) == nil, "\(listen)")
    }
  }

  @Test func overridesWin() throws {
    var configuration = try AgentConfiguration.parse(
      yaml: AgentConfiguration.embeddedDefault, source: "embedded")
    configuration.apply(
      overrides: ConfigOverrides(
        socketPath: "/tmp/v.sock", pinPath: "/sys/fs/bpf/test", offcpuThreshold: 1_000,
        futexThreshold: 2_000,
        extraTargets: [.pid(7), .executable("sshd")], events: .discard))
    #expect(configuration.socket.path == "/tmp/v.sock")
    #expect(configuration.bpf.pinPath == "/sys/fs/bpf/test")
    #expect(configuration.blocking.offcpuThreshold == 1_000)
    #expect(configuration.blocking.futexThreshold == 2_000)
    #expect(configuration.output.events == .discard)
    #expect(configuration.targets.count == 6)
    #expect(configuration.targets.last == .pid(7))
  }

  @Test func emptyOverridesChangeNothing() throws {
    var configuration = AgentConfiguration(targets: [.pid(1)])
    configuration.apply(overrides: ConfigOverrides())
    #expect(configuration == AgentConfiguration(targets: [.pid(1)]))
  }

  @Test func codableRoundTrip() throws {
    let configuration = AgentConfiguration(
      socket: SocketSettings(group: nil),
      targets: [.pid(3), .executable("nginx"), .cgroup("/sys/fs/cgroup/a")],
      output: OutputSettings(events: .file("/var/log/v.jsonl")),
      metrics: MetricsSettings(listen: "[::1]:1"))
    let json = try JSONEncoder().encode(configuration)
    #expect(try JSONDecoder().decode(AgentConfiguration.self, from: json) == configuration)
    let target = String(decoding: try JSONEncoder().encode(TargetSpec.pid(3)), as: UTF8.self)
    #expect(target == #"{"pid":3}"#)
  }

  @Test(
    arguments: [
      ("10ms", 10_000_000), ("1s", 1_000_000_000), ("500us", 500_000), ("500µs", 500_000),
      ("0", 0),
      ("100ns", 100), ("1.5ms", 1_500_000), ("0.25s", 250_000_000), ("2 ms", 2_000_000),
    ] as [(String, UInt64)])
  func parsesDurations(text: String, nanoseconds: UInt64) {
    #expect(Quantities.nanoseconds(text) == nanoseconds)
  }

  @Test(arguments: [
    "10", "10 parsecs", "-1ms", "ms", ".5s", "1.5ns", "1.ms", "99999999999s", "1e3ms", "+5ms",
  ])
  func rejectsDurations(text: String) {
    #expect(Quantities.nanoseconds(text) == nil)
  }

  @Test(
    arguments: [
      ("8MiB", 8 << 20), ("256KiB", 256 << 10), ("1GiB", 1 << 30), ("4096", 4096), ("512B", 512),
      ("1.5KiB", 1536),
    ] as [(String, UInt64)])
  func parsesSizes(text: String, bytes: UInt64) {
    #expect(Quantities.bytes(text) == bytes)
  }

  @Test(arguments: ["8MB", "8 mebibytes", "-1", "", "1.1B", "99999999999GiB"])
  func rejectsSizes(text: String) {
    #expect(Quantities.bytes(text) == nil)
  }

  @Test func parsesFileModes() {
    #expect(Quantities.fileMode("0660") == 0o660)
    #expect(Quantities.fileMode("660") == 0o660)
    #expect(Quantities.fileMode("0o600") == 0o600)
    for bad in ["999", "0680", "1777", "", "rw-rw----"] {
      #expect(Quantities.fileMode(bad) == nil, "\(bad)")
    }
  }

  @Test func eventSinkTextForms() {
    #expect(EventSink("stdout") == .stdout)
    #expect(EventSink("none") == .discard)
    #expect(EventSink("/var/log/v.jsonl") == .file("/var/log/v.jsonl"))
    #expect(EventSink("v.jsonl") == nil)
    #expect(EventSink.discard.description == "none")
  }
}
