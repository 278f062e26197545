/// Network policy: where applied policies are kept and how large a generation may be.
public struct PolicySettings: Sendable, Equatable, Codable {
  /// Directory where every applied generation is stored, so a reboot restores the last one.
  public var stateDirectory: String
  /// Address blocks per generation (over every endpoint direction); the datapath sizes each
  /// generation to what it holds.
  public var maxEntries: Int
  /// Rule and default-verdict counters per generation, at most 4194304. Each costs 48 bytes of
  /// kernel memory per CPU (three slots of per-CPU packet and byte counts).
  public var maxCounters: Int
  /// Endpoints (interfaces and cgroups) policies may select.
  public var maxEndpoints: Int
  /// Flows the connection table remembers (allowed flows, whose replies pass); when it is full
  /// the least recently used goes. Each costs 128 bytes of kernel memory, reserved up front.
  public var maxFlows: Int

  /// The largest `maxCounters`: a counter index is 22 bits in the datapath.
  public static let counterLimit = 1 << 22
  /// The largest `maxEndpoints` (`VIGIL_POLICY_MAX_ENDPOINTS`).
  public static let endpointLimit = 1024
  /// The bounds of `maxFlows`.
  public static let flowLimits = 1024...(1 << 24)

  /// Creates policy settings; the defaults are those of a file that leaves `policy` out.
  public init(
    stateDirectory: String = "/var/lib/vigil/policy", maxEntries: Int = 262_144,
    maxCounters: Int = 16_384, maxEndpoints: Int = 1024, maxFlows: Int = 65_536
  ) {
    self.stateDirectory = stateDirectory
    self.maxEntries = maxEntries
    self.maxCounters = maxCounters
    self.maxEndpoints = maxEndpoints
    self.maxFlows = maxFlows
  }

  init(_ node: ConfigNode) throws(ConfigError) {
    self.init()
    let fields = try node.mapping(keys: ["stateDirectory", "capacity"])
    if let directory = fields["stateDirectory"] { stateDirectory = try directory.string() }
    if let capacity = fields["capacity"] {
      let limits = try capacity.mapping(keys: ["entries", "counters", "endpoints", "flows"])
      if let value = limits["entries"] { maxEntries = try value.integer() }
      if let value = limits["counters"] { maxCounters = try value.integer() }
      if let value = limits["endpoints"] { maxEndpoints = try value.integer() }
      if let value = limits["flows"] { maxFlows = try value.integer() }
    }
  }

  func validate(source: String) throws(ConfigError) {
    guard stateDirectory.hasPrefix("/") else {
      throw ConfigError(
        source: source, field: "policy.stateDirectory", value: stateDirectory,
        reason: "must be an absolute path")
    }
    let limits = [
      ("entries", maxEntries, 1...(1 << 24)), ("counters", maxCounters, 1...Self.counterLimit),
      ("endpoints", maxEndpoints, 1...Self.endpointLimit), ("flows", maxFlows, Self.flowLimits),
    ]
    for (field, value, limit) in limits where !limit.contains(value) {
      throw ConfigError(
        source: source, field: "policy.capacity.\(field)", value: "\(value)",
        reason: "must be from \(limit.lowerBound) to \(limit.upperBound)")
    }
  }
}
