/// Goroutine leak detection: which Go processes are watched, how often they are read, and when a
/// group of parked goroutines counts as leaked.
public struct GoroutineSettings: Sendable, Equatable, Codable {
  /// Watch every Go process on the node (found by scanning /proc each interval).
  public var discover: Bool
  /// Time between two snapshots of one process, in nanoseconds.
  public var interval: UInt64
  /// A goroutine parked this long without running (on a channel, select, `sync.Cond`, mutex,
  /// semaphore, wait group or nil channel) may be leaked, in nanoseconds...
  public var parkedThreshold: UInt64
  /// ...when its group (wait reason, creation site, blocking frame) also grew within this
  /// window, in nanoseconds.
  public var growthWindow: UInt64
  /// Go processes watched at once; more are left out (and logged).
  public var maxProcesses: Int

  /// Creates goroutine settings; the defaults are those of a file that leaves `goroutines` out.
  public init(
    discover: Bool = true, interval: UInt64 = 10_000_000_000,
    parkedThreshold: UInt64 = 60_000_000_000, growthWindow: UInt64 = 600_000_000_000,
    maxProcesses: Int = 64
  ) {
    self.discover = discover
    self.interval = interval
    self.parkedThreshold = parkedThreshold
    self.growthWindow = growthWindow
    self.maxProcesses = maxProcesses
  }

  init(_ node: ConfigNode) throws(ConfigError) {
    self.init()
    let fields = try node.mapping(keys: [
      "discover", "interval", "parkedThreshold", "growthWindow", "maxProcesses",
    ])
    let durationReason = "is not a duration (use 500ms, 10s, 600s)"
    if let discover = fields["discover"] {
      self.discover = try discover.parsed(
        { ["true": true, "false": false][$0] }, else: "is not true or false")
    }
    if let value = fields["interval"] {
      interval = try value.parsed(Quantities.nanoseconds, else: durationReason)
    }
    if let value = fields["parkedThreshold"] {
      parkedThreshold = try value.parsed(Quantities.nanoseconds, else: durationReason)
    }
    if let value = fields["growthWindow"] {
      growthWindow = try value.parsed(Quantities.nanoseconds, else: durationReason)
    }
    if let value = fields["maxProcesses"] { maxProcesses = try value.integer() }
  }

  func validate(source: String) throws(ConfigError) {
    guard interval >= 100_000_000 else {
      throw ConfigError(
        source: source, field: "goroutines.interval", value: "\(interval)ns",
        reason: "must be at least 100ms")
    }
    guard growthWindow >= interval else {
      throw ConfigError(
        source: source, field: "goroutines.growthWindow", value: "\(growthWindow)ns",
        reason: "must be at least goroutines.interval (growth needs two snapshots)")
    }
    guard maxProcesses >= 1 else {
      throw ConfigError(
        source: source, field: "goroutines.maxProcesses", value: "\(maxProcesses)",
        reason: "must be at least 1")
    }
  }
}
