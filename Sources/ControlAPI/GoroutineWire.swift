/// A group of goroutines suspected (or, with `confirmed`, known) to be leaked: `GET /v1/leaks`
/// and the `goroutine_leak` lines of the log.
public struct GoroutineLeakJSON: Codable, Sendable, Equatable {
  public var pid: Int32
  /// The function whose `go` statement created them, and where.
  public var creationFunction: String
  public var creationFile: String
  public var creationLine: Int
  /// The runtime's own text, e.g. `chan send`.
  public var waitReason: String
  public var count: Int
  /// How long the oldest has been parked without running.
  public var parkedSeconds: Double
  /// The first frame of their stacks outside the runtime; null when none was found.
  public var blockingFunction: String?
  /// The group grew within `goroutines.growthWindow`.
  public var growing: Bool
  /// The Go runtime itself marked them leaked (Go 1.26+ leak profile).
  public var confirmed: Bool
  /// What the process's threads were doing in the kernel when the leak was seen.
  public var threads: ThreadSummary?

  public init(
    pid: Int32, creationFunction: String, creationFile: String, creationLine: Int,
    waitReason: String, count: Int, parkedSeconds: Double, blockingFunction: String?,
    growing: Bool, confirmed: Bool, threads: ThreadSummary? = nil
  ) {
    self.pid = pid
    self.creationFunction = creationFunction
    self.creationFile = creationFile
    self.creationLine = creationLine
    self.waitReason = waitReason
    self.count = count
    self.parkedSeconds = parkedSeconds
    self.blockingFunction = blockingFunction
    self.growing = growing
    self.confirmed = confirmed
    self.threads = threads
  }

  private enum CodingKeys: String, CodingKey {
    case pid, creationFunction, creationFile, creationLine, waitReason, count, parkedSeconds
    case blockingFunction, growing, confirmed, threads
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(pid, forKey: .pid)
    try container.encode(creationFunction, forKey: .creationFunction)
    try container.encode(creationFile, forKey: .creationFile)
    try container.encode(creationLine, forKey: .creationLine)
    try container.encode(waitReason, forKey: .waitReason)
    try container.encode(count, forKey: .count)
    try container.encode(parkedSeconds, forKey: .parkedSeconds)
    try container.encode(blockingFunction, forKey: .blockingFunction)  // null, not absent
    try container.encode(growing, forKey: .growing)
    try container.encode(confirmed, forKey: .confirmed)
    try container.encodeIfPresent(threads, forKey: .threads)
  }
}

/// A process's threads by what they were doing in the kernel.
public struct ThreadSummary: Codable, Sendable, Equatable {
  /// Threads in all.
  public var total: Int
  /// Threads by kernel state and syscall, e.g. `{"sleeping in futex": 5, "running": 1}`.
  public var byState: [String: Int]

  public init(total: Int, byState: [String: Int]) {
    self.total = total
    self.byState = byState
  }
}

/// The answer to `GET /v1/leaks`.
public struct LeaksResponse: Codable, Sendable, Equatable {
  public var leaks: [GoroutineLeakJSON]
  public init(leaks: [GoroutineLeakJSON]) { self.leaks = leaks }
}

/// One group of goroutines in `GET /v1/goroutines`, like a `goroutine?debug=1` entry.
public struct GoroutineGroupJSON: Codable, Sendable, Equatable {
  public var count: Int
  /// Goroutines by state (`waiting`, `runnable`, `running`, `syscall`, ...).
  public var states: [String: Int]
  public var waitReason: String?
  public var creationFunction: String?
  public var creationFile: String?
  public var creationLine: Int?
  public var blockingFunction: String?
  public var blockingFile: String?
  public var blockingLine: Int?
  /// The longest any member has been parked without running.
  public var longestParkedSeconds: Double?
  /// The group is reported as a leak.
  public var leak: Bool

  public init(
    count: Int, states: [String: Int], waitReason: String?, creationFunction: String?,
    creationFile: String?, creationLine: Int?, blockingFunction: String?, blockingFile: String?,
    blockingLine: Int?, longestParkedSeconds: Double?, leak: Bool
  ) {
    self.count = count
    self.states = states
    self.waitReason = waitReason
    self.creationFunction = creationFunction
    self.creationFile = creationFile
    self.creationLine = creationLine
    self.blockingFunction = blockingFunction
    self.blockingFile = blockingFile
    self.blockingLine = blockingLine
    self.longestParkedSeconds = longestParkedSeconds
    self.leak = leak
  }
}

/// The answer to `GET /v1/goroutines?pid=N`: a fresh snapshot, grouped.
public struct GoroutinesResponse: Codable, Sendable, Equatable {
  public var pid: Int32
  public var executable: String
  public var goVersion: String?
  /// When the snapshot was taken (RFC 3339).
  public var takenAt: String
  /// Live goroutines.
  public var total: Int
  /// Largest first.
  public var groups: [GoroutineGroupJSON]
  /// OS threads and the goroutine each runs.
  public var threads: Int

  public init(
    pid: Int32, executable: String, goVersion: String?, takenAt: String, total: Int,
    groups: [GoroutineGroupJSON], threads: Int
  ) {
    self.pid = pid
    self.executable = executable
    self.goVersion = goVersion
    self.takenAt = takenAt
    self.total = total
    self.groups = groups
    self.threads = threads
  }
}
