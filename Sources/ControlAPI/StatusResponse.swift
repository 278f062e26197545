/// `GET /v1/status`: the daemon's health at a glance.
public struct StatusResponse: Codable, Sendable, Equatable {
  /// vigild's version string.
  public var version: String
  /// vigild's process id.
  public var pid: Int32
  /// Seconds since vigild started.
  public var uptimeSeconds: Double
  /// State of the BPF programs.
  public var probes: ProbeStatus
  /// Number of configured targets.
  public var targets: Int
  /// Event pipeline counters since start.
  public var events: EventCounters

  /// Creates a status from its fields.
  public init(
    version: String, pid: Int32, uptimeSeconds: Double, probes: ProbeStatus, targets: Int,
    events: EventCounters
  ) {
    self.version = version
    self.pid = pid
    self.uptimeSeconds = uptimeSeconds
    self.probes = probes
    self.targets = targets
    self.events = events
  }
}

/// State of the BPF programs.
public struct ProbeStatus: Codable, Sendable, Equatable {
  /// Whether the programs are attached.
  public var attached: Bool
  /// Whether pinned programs from a previous run were re-adopted at start.
  public var adopted: Bool
  /// The bpffs directory holding the pins.
  public var pinPath: String
  /// Names of the loaded programs.
  public var programs: [String]

  /// Creates a probe status from its fields.
  public init(attached: Bool, adopted: Bool, pinPath: String, programs: [String]) {
    self.attached = attached
    self.adopted = adopted
    self.pinPath = pinPath
    self.programs = programs
  }
}

/// Event pipeline counters since start.
public struct EventCounters: Codable, Sendable, Equatable {
  /// Records read from the ring buffer.
  public var received: UInt64
  /// Events handed to sinks and subscribers.
  public var emitted: UInt64
  /// Records the kernel dropped because the ring buffer was full.
  public var lostRingBuffer: UInt64
  /// Events dropped in the daemon's hand-off queues.
  public var lostQueue: UInt64
  /// Events dropped because a subscriber was too slow.
  public var lostSubscribers: UInt64

  /// Creates counters; each defaults to 0.
  public init(
    received: UInt64 = 0, emitted: UInt64 = 0, lostRingBuffer: UInt64 = 0, lostQueue: UInt64 = 0,
    lostSubscribers: UInt64 = 0
  ) {
    self.received = received
    self.emitted = emitted
    self.lostRingBuffer = lostRingBuffer
    self.lostQueue = lostQueue
    self.lostSubscribers = lostSubscribers
  }
}
