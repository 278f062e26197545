/// Which blocking episodes are recorded, and with how much stack.
public struct BlockingSettings: Sendable, Equatable, Codable {
  /// Shortest off-CPU episode recorded, in nanoseconds (YAML: a duration such as `"10ms"`).
  public var offcpuThreshold: UInt64
  /// Shortest futex wait recorded, in nanoseconds (YAML: a duration such as `"10ms"`).
  public var futexThreshold: UInt64
  /// Frames captured per stack, 1 through 32 (the probes capture at most 32).
  public var stackDepth: Int
  /// Sleep states whose off-CPU episodes are recorded.
  public var states: Set<TaskState>

  /// Creates blocking settings; the defaults are those of a file that leaves `blocking` out.
  public init(
    offcpuThreshold: UInt64 = 10_000_000, futexThreshold: UInt64 = 10_000_000, stackDepth: Int = 32,
    states: Set<TaskState> = [.interruptible, .uninterruptible]
  ) {
    self.offcpuThreshold = offcpuThreshold
    self.futexThreshold = futexThreshold
    self.stackDepth = stackDepth
    self.states = states
  }

  /// Deepest stack the BPF stack map can hold.
  public static let maxStackDepth = 32

  init(_ node: ConfigNode) throws(ConfigError) {
    self.init()
    let fields = try node.mapping(keys: [
      "offcpuThreshold", "futexThreshold", "stackDepth", "states",
    ])
    let durationReason = "is not a duration (use 10ms, 1s, 500us)"
    if let offcpu = fields["offcpuThreshold"] {
      offcpuThreshold = try offcpu.parsed(Quantities.nanoseconds, else: durationReason)
    }
    if let futex = fields["futexThreshold"] {
      futexThreshold = try futex.parsed(Quantities.nanoseconds, else: durationReason)
    }
    if let depth = fields["stackDepth"] { stackDepth = try depth.integer() }
    if let list = fields["states"] {
      let names = TaskState.allCases.map(\.rawValue).joined(separator: ", ")
      states = []
      for item in try list.sequence() {
        states.insert(
          try item.parsed(TaskState.init(rawValue:), else: "is not a task state (use \(names))"))
      }
    }
  }

  func validate(source: String) throws(ConfigError) {
    guard (1...Self.maxStackDepth).contains(stackDepth) else {
      throw ConfigError(
        source: source, field: "blocking.stackDepth", value: "\(stackDepth)",
        reason: "must be between 1 and \(Self.maxStackDepth)")
    }
    guard !states.isEmpty else {
      throw ConfigError(
        source: source, field: "blocking.states", reason: "must name at least one task state")
    }
  }
}

/// A sleep state in which a task is off the CPU.
public enum TaskState: String, Sendable, Hashable, Codable, CaseIterable {
  /// `TASK_INTERRUPTIBLE` (`S` in ps): waiting for an event, such as a socket read or a futex.
  case interruptible
  /// `TASK_UNINTERRUPTIBLE` (`D` in ps): waiting in the kernel, typically for disk I/O.
  case uninterruptible
}
