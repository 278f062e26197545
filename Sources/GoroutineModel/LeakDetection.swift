/// When a group of goroutines counts as a suspected leak.
public struct LeakPolicy: Sendable, Hashable, Codable {
  /// The oldest member must have been parked this long without running.
  public var parkedThresholdSeconds: Double
  /// The window over which the group must have grown.
  public var growthWindowSeconds: Double
  /// By how many goroutines the group must have grown within the window.
  public var minimumGrowth: Int
  /// Wait reasons (the runtime's text) on which a goroutine can wait forever for another
  /// goroutine that will never come: channels, select, nil channels, `sync.Cond`, mutexes and
  /// semaphores, wait groups. Not sleep, IO wait, GC or other runtime waits.
  public var leakProneWaitReasons: Set<String>

  public static let defaultLeakProneWaitReasons: Set<String> = [
    "chan send", "chan receive", "select", "select (no cases)", "chan send (nil chan)",
    "chan receive (nil chan)", "sync.Cond.Wait", "sync.Mutex.Lock", "sync.RWMutex.RLock",
    "sync.RWMutex.Lock", "semacquire", "sync.WaitGroup.Wait",
  ]

  public init(
    parkedThresholdSeconds: Double = 60, growthWindowSeconds: Double = 600,
    minimumGrowth: Int = 2,
    leakProneWaitReasons: Set<String> = LeakPolicy.defaultLeakProneWaitReasons
  ) {
    (self.parkedThresholdSeconds, self.growthWindowSeconds) =
      (parkedThresholdSeconds, growthWindowSeconds)
    (self.minimumGrowth, self.leakProneWaitReasons) = (minimumGrowth, leakProneWaitReasons)
  }
}

/// A group of goroutines suspected (or, with `confirmed`, known) to be leaked. Its JSON has
/// exactly these keys, `blockingFunction` null when no frame outside the runtime was found.
public struct LeakReport: Sendable, Hashable, Codable {
  public var pid: Int32
  public var creationFunction: String
  public var creationFile: String
  public var creationLine: Int
  /// The runtime's own text, e.g. `chan send`.
  public var waitReason: String
  public var count: Int
  /// How long the oldest member has been parked without running.
  public var parkedSeconds: Double
  public var blockingFunction: String?
  /// The group grew within the policy's window.
  public var growing: Bool
  /// The runtime itself marked members leaked (`_Gleaked`, Go 1.26+).
  public var confirmed: Bool

  public init(
    pid: Int32, creationFunction: String, creationFile: String, creationLine: Int,
    waitReason: String, count: Int, parkedSeconds: Double, blockingFunction: String?,
    growing: Bool, confirmed: Bool
  ) {
    (self.pid, self.creationFunction, self.creationFile) = (pid, creationFunction, creationFile)
    (self.creationLine, self.waitReason, self.count) = (creationLine, waitReason, count)
    (self.parkedSeconds, self.blockingFunction) = (parkedSeconds, blockingFunction)
    (self.growing, self.confirmed) = (growing, confirmed)
  }

  private enum CodingKeys: String, CodingKey {
    case pid, creationFunction, creationFile, creationLine, waitReason, count, parkedSeconds
    case blockingFunction, growing, confirmed
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
    // Present as null rather than absent.
    try container.encode(blockingFunction, forKey: .blockingFunction)
    try container.encode(growing, forKey: .growing)
    try container.encode(confirmed, forKey: .confirmed)
  }
}

extension GoroutineGroup {
  /// Whether the group grew by at least `minimumGrowth` within the last `windowSeconds` and is
  /// at its largest now.
  public func isGrowing(windowSeconds: Double, minimumGrowth: Int) -> Bool {
    guard let last = history.last else { return false }
    let start =
      last.at.monotonicNanoseconds
      - min(
        last.at.monotonicNanoseconds, UInt64(max(0, windowSeconds) * 1e9))
    let window = history.filter { $0.at.monotonicNanoseconds >= start }
    guard let first = window.first, window.count >= 2 else { return false }
    return last.count - first.count >= max(1, minimumGrowth)
      && last.count >= window.map(\.count).max()!
  }
}

extension GoroutineTracker {
  /// The groups that look leaked under `policy`: parked on a leak-prone reason for longer than
  /// the threshold while the group grew, not owned by the runtime; or holding goroutines the
  /// runtime marked leaked. Largest first.
  public func leaks(policy: LeakPolicy = LeakPolicy()) -> [LeakReport] {
    groups().compactMap { group in
      guard let reason = group.key.waitReason, !group.runtimeOwned else { return nil }
      let growing = group.isGrowing(
        windowSeconds: policy.growthWindowSeconds, minimumGrowth: policy.minimumGrowth)
      let parked = group.oldestParkedSeconds ?? 0
      let confirmed = group.leakedCount > 0
      let suspected =
        policy.leakProneWaitReasons.contains(reason) && parked >= policy.parkedThresholdSeconds
        && growing
      guard suspected || confirmed else { return nil }
      return LeakReport(
        pid: pid, creationFunction: group.key.creationFunction ?? "?",
        creationFile: group.key.creationFile ?? "?", creationLine: group.key.creationLine ?? 0,
        waitReason: reason, count: group.count, parkedSeconds: parked,
        blockingFunction: group.key.blockingFunction, growing: growing, confirmed: confirmed)
    }
  }
}
