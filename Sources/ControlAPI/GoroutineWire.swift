import GoroutineModel

/// A suspected goroutine leak as served by `GET /v1/leaks` and logged as `goroutine_leak`: the
/// model's `LeakReport` (its keys, `blockingFunction` null when unknown) plus what the process's
/// threads were doing in the kernel. The report's fields read through (`leak.count`).
@dynamicMemberLookup
public struct GoroutineLeakJSON: Codable, Sendable, Equatable {
  public var report: LeakReport
  /// What the process's threads were doing in the kernel when the leak was seen.
  public var threads: ThreadSummary?

  public init(report: LeakReport, threads: ThreadSummary? = nil) {
    self.report = report
    self.threads = threads
  }

  public subscript<T>(dynamicMember field: KeyPath<LeakReport, T>) -> T { report[keyPath: field] }

  private enum Keys: String, CodingKey { case threads }

  public init(from decoder: any Decoder) throws {
    report = try LeakReport(from: decoder)
    threads = try decoder.container(keyedBy: Keys.self).decodeIfPresent(
      ThreadSummary.self, forKey: .threads)
  }

  public func encode(to encoder: any Encoder) throws {
    try report.encode(to: encoder)
    var container = encoder.container(keyedBy: Keys.self)
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

/// The answer to `POST /v1/goroutines/trace?pid=N&seconds=S`: what a trace session saw.
public struct GoroutineTraceResponse: Codable, Sendable, Equatable {
  public var pid: Int32
  /// How long the session recorded.
  public var seconds: Double
  /// Changes not recorded (ring buffer full, or past the session's limit).
  public var lost: UInt64
  public var trace: StatusTraceSummary

  public init(pid: Int32, seconds: Double, lost: UInt64, trace: StatusTraceSummary) {
    (self.pid, self.seconds, self.lost, self.trace) = (pid, seconds, lost, trace)
  }
}
