import Foundation

/// The daemon's configuration: the YAML file or the embedded default, with flag overrides applied.
public struct AgentConfiguration: Sendable, Equatable, Codable {
  /// The control socket.
  public var socket: SocketSettings
  /// BPF pinning and buffering.
  public var bpf: BPFSettings
  /// Which blocking episodes are recorded.
  public var blocking: BlockingSettings
  /// Targets watched from startup; more can be added at run time through the control socket.
  public var targets: [TargetSpec]
  /// Where events go.
  public var output: OutputSettings
  /// Where metrics are served.
  public var metrics: MetricsSettings
  /// Symbolization cache sizes.
  public var symbolization: SymbolizationSettings
  /// Network policy storage and capacity.
  public var policy: PolicySettings
  /// Goroutine leak detection in Go processes.
  public var goroutines: GoroutineSettings

  /// Creates a configuration; the defaults are those of an empty file.
  public init(
    socket: SocketSettings = .init(), bpf: BPFSettings = .init(),
    blocking: BlockingSettings = .init(),
    targets: [TargetSpec] = [], output: OutputSettings = .init(),
    metrics: MetricsSettings = .init(),
    symbolization: SymbolizationSettings = .init(), policy: PolicySettings = .init(),
    goroutines: GoroutineSettings = .init()
  ) {
    self.socket = socket
    self.bpf = bpf
    self.blocking = blocking
    self.targets = targets
    self.output = output
    self.metrics = metrics
    self.symbolization = symbolization
    self.policy = policy
    self.goroutines = goroutines
  }

  /// Reads a YAML configuration; missing keys take their defaults. `source` names it in errors.
  ///
  /// Unknown keys, values of the wrong type or form, and malformed YAML are errors. Ranges and
  /// cross-field rules are checked by `validated(source:cgroupMount:)`.
  public static func parse(yaml: String, source: String) throws(ConfigError) -> AgentConfiguration {
    var configuration = AgentConfiguration()
    guard let root = try ConfigNode.root(yaml: yaml, source: source) else { return configuration }
    let sections = try root.mapping(keys: [
      "socket", "bpf", "blocking", "targets", "output", "metrics", "symbolization", "policy",
      "goroutines",
    ])
    if let node = sections["socket"] { configuration.socket = try SocketSettings(node) }
    if let node = sections["bpf"] { configuration.bpf = try BPFSettings(node) }
    if let node = sections["blocking"] { configuration.blocking = try BlockingSettings(node) }
    if let node = sections["targets"] {
      configuration.targets = []
      for item in try node.sequence() { configuration.targets.append(try TargetSpec(item)) }
    }
    if let node = sections["output"] { configuration.output = try OutputSettings(node) }
    if let node = sections["metrics"] { configuration.metrics = try MetricsSettings(node) }
    if let node = sections["symbolization"] {
      configuration.symbolization = try SymbolizationSettings(node)
    }
    if let node = sections["policy"] { configuration.policy = try PolicySettings(node) }
    if let node = sections["goroutines"] {
      configuration.goroutines = try GoroutineSettings(node)
    }
    return configuration
  }

  /// This configuration, once its ranges, paths and targets check out.
  ///
  /// Cgroup targets must exist under `cgroupMount`, which defaults to this node's cgroup2 mount.
  /// `source` names the origin in errors, such as the file name.
  public func validated(
    source: String = "configuration", cgroupMount: String? = ProcFS.cgroup2Mount()
  ) throws(ConfigError) -> AgentConfiguration {
    try socket.validate(source: source)
    try bpf.validate(source: source, pageSize: UInt64(sysconf(Int32(_SC_PAGESIZE))))
    try blocking.validate(source: source)
    for (index, target) in targets.enumerated() {
      do {
        try target.validate(cgroupMount: cgroupMount)
      } catch {
        throw error.relocated(source: source, under: "targets[\(index)]")
      }
    }
    try metrics.validate(source: source)
    try symbolization.validate(source: source)
    try policy.validate(source: source)
    try goroutines.validate(source: source)
    return self
  }

  /// Replaces file values with those given on the command line, and appends extra targets not
  /// already listed.
  public mutating func apply(overrides: ConfigOverrides) {
    if let path = overrides.socketPath { socket.path = path }
    if let path = overrides.pinPath { bpf.pinPath = path }
    if let threshold = overrides.offcpuThreshold { blocking.offcpuThreshold = threshold }
    if let threshold = overrides.futexThreshold { blocking.futexThreshold = threshold }
    for target in overrides.extraTargets where !targets.contains(target) { targets.append(target) }
    if let events = overrides.events { output.events = events }
    if let directory = overrides.policyStateDirectory { policy.stateDirectory = directory }
  }
}
