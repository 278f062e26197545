/// What makes goroutines one group: the wait reason, the creation site and the blocking frame.
public struct GoroutineGroupKey: Sendable, Hashable, Codable, CustomStringConvertible {
  public var waitReason: String?
  public var creationFunction: String?
  public var creationFile: String?
  public var creationLine: Int?
  public var blockingFunction: String?
  public var blockingFile: String?
  public var blockingLine: Int?

  public init(_ goroutine: Goroutine) {
    let state = GoroutineState(status: goroutine.status, waitReason: goroutine.waitReason)
    waitReason = state.waitReason
    creationFunction = goroutine.creation.function
    creationFile = goroutine.creation.file
    creationLine = goroutine.creation.line
    let blocking = goroutine.blockingFrame
    blockingFunction = blocking?.function
    blockingFile = blocking?.file
    blockingLine = blocking?.line
  }

  public var description: String {
    let creation = "\(creationFunction ?? "?") \(creationFile ?? "?"):\(creationLine ?? 0)"
    return "[\(waitReason ?? "-")] created by \(creation) at \(blockingFunction ?? "?")"
  }
}

/// A group's size at one snapshot.
public struct GroupCountSample: Sendable, Hashable, Codable {
  public var at: SnapshotTime
  public var count: Int
}

/// Goroutines that wait for the same reason at the same place and were created at the same
/// place, at the tracker's latest snapshot.
public struct GoroutineGroup: Sendable, Hashable {
  public var key: GoroutineGroupKey
  public var count: Int
  public var states: [GoroutineStatus: Int]
  /// The longest any member has been parked without running, in seconds.
  public var oldestParkedSeconds: Double?
  public var startFunction: String?
  /// A representative member's stack, innermost frame first.
  public var stack: [StackFrame]
  /// Created by or running in the runtime (GC workers, finalizers, `runtime.main`).
  public var runtimeOwned: Bool
  /// The group's count at each snapshot in the tracker's history window.
  public var history: [GroupCountSample]

  /// Members the runtime itself marked leaked (`_Gleaked`, Go 1.26+).
  public var leakedCount: Int { states[.leaked] ?? 0 }
}
