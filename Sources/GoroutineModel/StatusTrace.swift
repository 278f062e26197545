/// A goroutine status change seen as it happened, by a trace session (a short uprobe session on
/// `runtime.casgstatus`), rather than inferred from two snapshots.
public struct ObservedStatusChange: Sendable, Hashable {
  public var goid: Int64
  public var from: GoroutineState
  public var to: GoroutineState
  /// `CLOCK_MONOTONIC` nanoseconds of the change.
  public var monotonicNanoseconds: UInt64
  /// The thread that made it.
  public var tid: Int32

  public init(
    goid: Int64, from: GoroutineState, to: GoroutineState, monotonicNanoseconds: UInt64,
    tid: Int32
  ) {
    (self.goid, self.from, self.to) = (goid, from, to)
    (self.monotonicNanoseconds, self.tid) = (monotonicNanoseconds, tid)
  }
}

extension GoroutineTracker {
  /// Feeds the changes a trace session saw (in order, all after the latest snapshot): each
  /// tracked goroutine moves to its new state and counts the transition; its parked time starts
  /// over when it parks, and it is dropped when it dies. Goroutines created during the session
  /// are left to the next snapshot, which reads them whole (creation site, stack). Returns the
  /// transitions applied.
  @discardableResult
  public mutating func apply(_ changes: [ObservedStatusChange]) -> [GoroutineTransition] {
    var applied: [GoroutineTransition] = []
    for change in changes {
      guard var tracked = goroutines[change.goid] else { continue }
      // Wall time for display, from the latest snapshot's pair of clocks.
      let wall = latest.map {
        $0.taken.wallSeconds
          + Double(Int64(bitPattern: change.monotonicNanoseconds &- $0.taken.monotonicNanoseconds))
          / 1e9
      }
      let at = SnapshotTime(
        monotonicNanoseconds: change.monotonicNanoseconds, wallSeconds: wall ?? 0)
      applied.append(
        GoroutineTransition(goid: change.goid, from: tracked.state, to: change.to, at: at))
      if change.to.status == .dead {
        remove(change.goid)
        continue
      }
      tracked.transitions += 1
      tracked.state = change.to
      tracked.parkedSinceNanoseconds =
        change.to.status.isParked ? change.monotonicNanoseconds : nil
      replace(tracked)
    }
    return applied
  }
}

/// What a trace session saw, summed up for people: changes by kind, and the busiest goroutines.
public struct StatusTraceSummary: Sendable, Hashable, Codable {
  /// Changes of one kind (`from` → `to`, states as `GoroutineState.description` spells them).
  public struct ChangeCount: Sendable, Hashable, Codable {
    public var from: String
    public var to: String
    public var count: Int
  }

  /// One goroutine's changes.
  public struct Busy: Sendable, Hashable, Codable {
    public var goroutine: Int64
    public var changes: Int
    /// Its state after the last change seen.
    public var lastState: String
  }

  public var changes: Int
  public var goroutines: Int
  /// Most frequent first, at most `limit`.
  public var byChange: [ChangeCount]
  /// Most changes first, at most `limit`.
  public var busiest: [Busy]

  public init(_ changes: [ObservedStatusChange], limit: Int = 20) {
    var kinds: [[GoroutineState]: Int] = [:]
    var perGoroutine: [Int64: (count: Int, last: GoroutineState)] = [:]
    for change in changes {
      kinds[[change.from, change.to], default: 0] += 1
      perGoroutine[change.goid, default: (0, change.to)].count += 1
      perGoroutine[change.goid]!.last = change.to
    }
    self.changes = changes.count
    goroutines = perGoroutine.count
    byChange = kinds.map {
      ChangeCount(from: $0.key[0].description, to: $0.key[1].description, count: $0.value)
    }
    .sorted { ($0.count, $1.from, $1.to) > ($1.count, $0.from, $0.to) }
    .prefix(limit).map { $0 }
    busiest = perGoroutine.map {
      Busy(goroutine: $0.key, changes: $0.value.count, lastState: $0.value.last.description)
    }
    .sorted { ($0.changes, -$0.goroutine) > ($1.changes, -$1.goroutine) }
    .prefix(limit).map { $0 }
  }
}
