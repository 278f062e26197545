/// Values from command-line flags, which win over the file; nil keeps the file's value.
public struct ConfigOverrides: Sendable, Equatable {
  /// Replaces `socket.path`.
  public var socketPath: String?
  /// Replaces `bpf.pinPath`.
  public var pinPath: String?
  /// Replaces `blocking.offcpuThreshold`, in nanoseconds (see `Quantities.nanoseconds(_:)`).
  public var offcpuThreshold: UInt64?
  /// Replaces `blocking.futexThreshold`, in nanoseconds (see `Quantities.nanoseconds(_:)`).
  public var futexThreshold: UInt64?
  /// Added to `targets` (see `TargetSpec.init(_:)` for the `kind:value` form).
  public var extraTargets: [TargetSpec]
  /// Replaces `output.events`.
  public var events: EventSink?
  /// Replaces `policy.stateDirectory`.
  public var policyStateDirectory: String?

  /// Creates overrides; every value left out keeps the file's.
  public init(
    socketPath: String? = nil, pinPath: String? = nil, offcpuThreshold: UInt64? = nil,
    futexThreshold: UInt64? = nil, extraTargets: [TargetSpec] = [], events: EventSink? = nil,
    policyStateDirectory: String? = nil
  ) {
    self.socketPath = socketPath
    self.pinPath = pinPath
    self.offcpuThreshold = offcpuThreshold
    self.futexThreshold = futexThreshold
    self.extraTargets = extraTargets
    self.events = events
    self.policyStateDirectory = policyStateDirectory
  }
}
