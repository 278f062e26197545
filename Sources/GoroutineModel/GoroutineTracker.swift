/// The state of a goroutine's lifecycle state machine: a status, and for parked goroutines the
/// reason they wait on.
public struct GoroutineState: Sendable, Hashable, Codable, CustomStringConvertible {
  public var status: GoroutineStatus
  public var waitReason: String?

  public init(status: GoroutineStatus, waitReason: String? = nil) {
    (self.status, self.waitReason) = (status, status.isParked ? waitReason : nil)
  }

  public static let dead = GoroutineState(status: .dead)

  public var description: String {
    waitReason.map { "\(status.rawValue)(\($0))" } ?? status.rawValue
  }
}

/// A change of one goroutine's state between two snapshots.
public struct GoroutineTransition: Sendable, Hashable, Codable {
  public var goid: Int64
  /// Nil when the goroutine was first seen.
  public var from: GoroutineState?
  public var to: GoroutineState
  public var at: SnapshotTime
}

/// What the tracker knows about one live goroutine.
public struct TrackedGoroutine: Sendable, Hashable {
  /// The goroutine as last read.
  public var goroutine: Goroutine
  public var state: GoroutineState
  public var firstSeen: SnapshotTime
  /// `CLOCK_MONOTONIC` nanoseconds since which it has been parked in `state` without running:
  /// the first snapshot that saw it so (with the same `trackingSeq`), or the runtime's earlier
  /// `g.waitsince`. Nil unless parked.
  public var parkedSinceNanoseconds: UInt64?
  /// State changes seen, including having run between two snapshots in the same state.
  public var transitions: Int
  /// The group it belongs to, computed once per change of the goroutine (finding the blocking
  /// frame looks at every frame's package name).
  public var groupKey: GoroutineGroupKey
  /// The tracker's update that last saw it.
  var seenInUpdate: UInt64 = 0
}

/// Why a snapshot was refused.
public enum GoroutineTrackerError: Error, Equatable, CustomStringConvertible {
  case otherProcess(expected: Int32, got: Int32)
  case outOfOrder(lastNanoseconds: UInt64, gotNanoseconds: UInt64)

  public var description: String {
    switch self {
    case .otherProcess(let expected, let got):
      "snapshot of pid \(got) given to the tracker of pid \(expected)"
    case .outOfOrder(let last, let got):
      "snapshot taken at \(got) ns is not after the last one (\(last) ns)"
    }
  }
}

/// Follows the goroutines of one process through successive snapshots: a state machine per
/// goroutine (by goid, which the runtime never reuses), and the count history of every group.
///
/// A goroutine absent from a snapshot has exited (transition to dead). Parked durations use
/// `trackingSeq` to see that a goroutine ran between two snapshots even when it parked again
/// for the same reason.
public struct GoroutineTracker: Sendable {
  public let pid: Int32
  /// How long group count histories are kept.
  public let historySeconds: Double
  public private(set) var goroutines: [Int64: TrackedGoroutine] = [:]
  public private(set) var latest: GoroutineSnapshot?
  /// Per group, its count at each snapshot within `historySeconds` (0 once it emptied).
  public private(set) var history: [GoroutineGroupKey: [GroupCountSample]] = [:]
  /// How many tracked goroutines each group has now, kept as goroutines come, go and change.
  private var groupCounts: [GoroutineGroupKey: Int] = [:]
  private var updates: UInt64 = 0

  public init(pid: Int32, historySeconds: Double = 900) {
    (self.pid, self.historySeconds) = (pid, historySeconds)
  }

  /// Feeds the next snapshot; returns the state changes it shows (new goroutines, changes,
  /// re-parks after running, and exits). Throws for another process's or an older snapshot.
  @discardableResult
  public mutating func update(with snapshot: GoroutineSnapshot) throws(GoroutineTrackerError)
    -> [GoroutineTransition]
  {
    guard snapshot.pid == pid else {
      throw .otherProcess(expected: pid, got: snapshot.pid)
    }
    let now = snapshot.taken
    if let last = latest?.taken, now <= last {
      throw .outOfOrder(
        lastNanoseconds: last.monotonicNanoseconds, gotNanoseconds: now.monotonicNanoseconds)
    }
    updates += 1
    let update = updates
    goroutines.reserveCapacity(snapshot.goroutines.count)
    var transitions: [GoroutineTransition] = []
    var seen = 0
    // Tracked goroutines are changed in place: copying 100k records per snapshot cost more
    // than reading them from the process.
    for goroutine in snapshot.goroutines {
      let state = GoroutineState(status: goroutine.status, waitReason: goroutine.waitReason)
      guard let index = goroutines.index(forKey: goroutine.goid) else {
        transitions.append(.init(goid: goroutine.goid, from: nil, to: state, at: now))
        var tracked = TrackedGoroutine(
          goroutine: goroutine, state: state, firstSeen: now, parkedSinceNanoseconds: nil,
          transitions: 0, groupKey: GoroutineGroupKey(goroutine), seenInUpdate: update)
        tracked.noteParked(goroutine, at: now)
        groupCounts[tracked.groupKey, default: 0] += 1
        goroutines[goroutine.goid] = tracked
        seen += 1
        continue
      }
      guard goroutines.values[index].seenInUpdate != update else { continue }  // listed twice
      seen += 1
      let regrouped = goroutines.values[index].observe(
        goroutine, state: state, at: now, update: update, transitions: &transitions)
      if let (old, new) = regrouped {
        leaveGroup(old)
        groupCounts[new, default: 0] += 1
      }
    }
    if seen < goroutines.count {
      // Collected first: removing while iterating would copy the whole table.
      let dead = goroutines.filter { $0.value.seenInUpdate != update }
      for (goid, tracked) in dead {
        transitions.append(.init(goid: goid, from: tracked.state, to: .dead, at: now))
        remove(goid)
      }
    }
    latest = snapshot
    recordCounts(at: now)
    return transitions
  }

  /// Stops tracking `goid` (it died).
  mutating func remove(_ goid: Int64) {
    guard let tracked = goroutines.removeValue(forKey: goid) else { return }
    leaveGroup(tracked.groupKey)
  }

  /// Replaces what is known of a tracked goroutine (its group unchanged).
  mutating func replace(_ tracked: TrackedGoroutine) {
    goroutines[tracked.goroutine.goid] = tracked
  }

  private mutating func leaveGroup(_ key: GoroutineGroupKey) {
    guard let count = groupCounts[key] else { return }
    groupCounts[key] = count > 1 ? count - 1 : nil
  }

  private mutating func recordCounts(at now: SnapshotTime) {
    let counts = groupCounts
    let oldest =
      now.monotonicNanoseconds
      - min(
        now.monotonicNanoseconds, UInt64(max(0, historySeconds) * 1e9))
    for key in Set(history.keys).union(counts.keys) {
      var samples = history[key, default: []]
      samples.append(GroupCountSample(at: now, count: counts[key] ?? 0))
      samples.removeAll { $0.at.monotonicNanoseconds < oldest }
      history[key] = samples.contains { $0.count > 0 } ? samples : nil
    }
  }

  /// The goroutines grouped like pprof's `goroutine?debug=1` (wait reason, creation site and
  /// blocking frame), largest first.
  public func groups() -> [GoroutineGroup] {
    guard let now = latest?.taken else { return [] }
    var members: [GoroutineGroupKey: [TrackedGoroutine]] = [:]
    for tracked in goroutines.values {
      members[tracked.groupKey, default: []].append(tracked)
    }
    return members.map { key, group in
      var states: [GoroutineStatus: Int] = [:]
      for tracked in group { states[tracked.state.status, default: 0] += 1 }
      let oldest = group.compactMap(\.parkedSinceNanoseconds).min()
      // The representative: the goroutine with the deepest stack, then the lowest goid.
      let sample = group.max {
        ($0.goroutine.stack.count, -$0.goroutine.goid) < (
          $1.goroutine.stack.count, -$1.goroutine.goid
        )
      }!.goroutine
      return GoroutineGroup(
        key: key, count: group.count, states: states,
        oldestParkedSeconds: oldest.map { now.seconds(since: $0) },
        startFunction: sample.start.function, stack: sample.stack,
        runtimeOwned: sample.isRuntimeOwned, history: history[key] ?? [])
    }.sorted { ($0.count, $1.key.description) > ($1.count, $0.key.description) }
  }
}

extension TrackedGoroutine {
  /// Takes in the goroutine as a new snapshot read it; returns its old and new group when the
  /// group changed.
  fileprivate mutating func observe(
    _ goroutine: Goroutine, state: GoroutineState, at now: SnapshotTime, update: UInt64,
    transitions: inout [GoroutineTransition]
  ) -> (GoroutineGroupKey, GoroutineGroupKey)? {
    seenInUpdate = update
    let ran = self.goroutine.trackingSeq != goroutine.trackingSeq
    if self.state != state || ran {
      transitions.append(.init(goid: goroutine.goid, from: self.state, to: state, at: now))
      self.transitions += 1
    }
    let stillParked = state.status.isParked && self.state == state && !ran
    if !stillParked { parkedSinceNanoseconds = nil }
    // What the key is made of (a GC's waitsince changes nothing here).
    let old = self.goroutine
    var regrouped: (GoroutineGroupKey, GoroutineGroupKey)?
    if old.status != goroutine.status || old.waitReason != goroutine.waitReason
      || old.creation != goroutine.creation || old.stack != goroutine.stack
    {
      let key = GoroutineGroupKey(goroutine)
      if key != groupKey { regrouped = (groupKey, key) }
      groupKey = key
    }
    self.goroutine = goroutine
    self.state = state
    noteParked(goroutine, at: now)
    return regrouped
  }

  /// Parked since: the first snapshot that saw it parked so, or the runtime's earlier
  /// `g.waitsince` (set at a GC) when it has not run since.
  fileprivate mutating func noteParked(_ goroutine: Goroutine, at now: SnapshotTime) {
    guard state.status.isParked else { return }
    var since = parkedSinceNanoseconds ?? now.monotonicNanoseconds
    if let runtime = goroutine.waitingSinceNanoseconds, runtime > 0,
      runtime <= now.monotonicNanoseconds
    {
      since = min(since, runtime)
    }
    parkedSinceNanoseconds = since
  }
}
